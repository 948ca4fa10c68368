"""The Info tab says who ran an experiment and on which machine, and, for one an agent ran
again, the machine it was first recorded on."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.scripts import unique


def test_the_info_tab_shows_the_user_and_both_machines(page: Page, http: httpx.Client) -> None:
    runtime = {
        "host": "gpu-box-7",
        "os_user": "svc-agent",
        "original": {"host": "laptop-of-ada", "os_user": "ada"},
    }
    made = http.post(
        "/api/v1/tasks",
        json={"name": "rerun", "project": unique("info"), "user": "ada", "runtime": runtime},
    )
    assert made.status_code == 201, made.text
    page.goto(f"/experiments/{made.json()['id']}/info")
    rows = page.locator("table.kv tr")
    expect(rows.filter(has=page.get_by_role("rowheader", name="User", exact=True))).to_contain_text(
        "ada"
    )
    expect(rows.filter(has=page.get_by_role("rowheader", name="OS user"))).to_contain_text(
        "svc-agent"
    )
    expect(rows.filter(has=page.get_by_role("rowheader", name="Host"))).to_contain_text("gpu-box-7")
    first = rows.filter(has=page.get_by_role("rowheader", name="First recorded on"))
    expect(first).to_contain_text("laptop-of-ada")
    expect(first).to_contain_text("as ada")

"""The experiment page's tabs in a real browser: editing in place on a draft, a read-only
published experiment, a save that loses a race, and the console's live tail."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot
from tests.web.test_experiment_edit import _api, _draft


def _run_with_outputs(http: httpx.Client, task_id: str) -> None:
    """A draft given an input model, run to completion with an output model and two
    artifacts, for the Artifacts tab."""
    model = http.post(
        "/api/v1/models",
        json={"name": "imagenet-init", "framework": "PyTorch", "uri": "s3://models/init.pt"},
    ).json()
    chosen = http.put(f"/api/v1/tasks/{task_id}/input_model", json={"model_id": model["id"]})
    assert chosen.status_code == 200, chosen.text
    for status in ("running", "completed"):
        ran = http.patch(f"/api/v1/tasks/{task_id}", json={"status": status})
        assert ran.status_code == 200, ran.text
    http.post(
        "/api/v1/models",
        json={
            "name": "best",
            "task_id": task_id,
            "framework": "PyTorch",
            "uri": "tunelab://m/best.pt",
        },
    )
    for name, preview in (("metrics", "epoch,loss\n0,0.9\n1,0.5"), ("weights", "")):
        answer = http.put(
            f"/api/v1/tasks/{task_id}/artifacts/{name}",
            json={
                "type": "table" if preview else "file",
                "format": "csv" if preview else "bin",
                "uri": f"tunelab://runs/{task_id}/{name}",
                "size": 123_456,
                "sha256": "ab" * 32,
                "preview": preview,
            },
        )
        assert answer.status_code == 200, answer.text


def test_edit_a_number_and_a_configuration_object_on_a_draft(
    page: Page, http: httpx.Client
) -> None:
    task = _draft(http)
    tid = task["id"]
    page.goto(f"/experiments/{tid}/execution")
    expect(page.get_by_role("heading", name="Source code")).to_be_visible()
    screenshot(page, "experiment-execution")

    page.get_by_role("link", name="Configuration").click()
    args = page.locator('.hyper-section[data-section="Args"]')
    args.get_by_role("button", name="Edit").click()
    epochs = args.get_by_label("Args/epochs")
    expect(epochs).to_have_attribute("type", "number")
    epochs.fill("2.5")
    args.get_by_role("button", name="Save").click()
    # The browser refuses a fraction for an int: nothing is sent, the form stays open.
    expect(epochs).to_be_visible()
    assert epochs.evaluate("e => e.validity.stepMismatch")
    epochs.fill("20")
    args.get_by_role("button", name="Add parameter").click()
    args.get_by_label("New parameter name in Args").fill("warmup")
    args.get_by_label("New parameter type in Args").select_option("float")
    args.get_by_label("New parameter value in Args").fill("0.05")
    screenshot(page, "experiment-configuration-edit")
    args.get_by_role("button", name="Save").click()
    expect(args.locator("form")).to_have_count(0)
    expect(page.locator(".toast")).to_contain_text("Saved Args")
    stored = _api(http, tid)["hyperparameters"]["Args"]
    assert stored["epochs"]["value"] == "20"
    assert stored["warmup"] == {"value": "0.05", "type": "float", "description": ""}

    model = page.locator('.config-object[data-name="model"]')
    model.get_by_role("button", name="Edit").click()
    model.get_by_label("Text of model").fill('{"layers": 50}')
    model.get_by_role("button", name="Save").click()
    expect(model.locator("pre")).to_have_text('{"layers": 50}')
    assert _api(http, tid)["configuration"]["model"]["text"] == '{"layers": 50}'


def test_a_boolean_is_a_toggle(page: Page, http: httpx.Client) -> None:
    tid = _draft(http)["id"]
    page.goto(f"/experiments/{tid}/hyperparameters/Args?edit=1")  # the form's own URL
    amp = page.get_by_role("switch", name="Args/amp")
    expect(amp).to_be_checked()
    amp.focus()
    page.keyboard.press("Space")  # a keyboard user flips it too
    expect(amp).not_to_be_checked()
    page.get_by_role("button", name="Save").click()
    expect(page.locator('.hyper-section[data-section="Args"] form')).to_have_count(0)
    assert _api(http, tid)["hyperparameters"]["Args"]["amp"]["value"] == "False"


@pytest.mark.parametrize("allowed_console_errors", [[r"status of 409", r"Error Code 409"]])
def test_a_save_that_loses_a_race_to_an_enqueue_says_why(page: Page, http: httpx.Client) -> None:
    tid = _draft(http)["id"]
    page.goto(f"/experiments/{tid}/configuration")
    args = page.locator('.hyper-section[data-section="Args"]')
    args.get_by_role("button", name="Edit").click()
    args.get_by_label("Args/lr").fill("0.5")
    enqueued = http.post(f"/api/v1/tasks/{tid}/enqueue", json={"queue": "default"})
    assert enqueued.status_code == 200, enqueued.text
    args.get_by_role("button", name="Save").click()
    expect(page.locator(".toast-error")).to_contain_text(
        "cannot edit the inputs of a queued task: only a draft's inputs can be edited"
    )
    assert _api(http, tid)["hyperparameters"]["Args"]["lr"]["value"] == "0.1"
    http.post(f"/api/v1/tasks/{tid}/dequeue")


def test_a_published_experiment_has_no_enabled_edit_control(page: Page, http: httpx.Client) -> None:
    tid = _draft(http, comment="the keeper", tags=["best"])["id"]
    http.patch(
        f"/api/v1/tasks/{tid}",
        json={
            "user": "ana",
            "runtime": {
                "host": "gpu-box-3",
                "os": "Linux 6.1",
                "python": "3.11.7",
                "cpu_count": 32,
                "memory_gb": 125.8,
                "gpus": ["NVIDIA A100 80GB"],
            },
        },
    )
    _run_with_outputs(http, tid)
    assert http.post(f"/api/v1/tasks/{tid}/publish").status_code == 200
    for tab in ("execution", "configuration", "artifacts", "info"):
        page.goto(f"/experiments/{tid}/{tab}")
        controls = page.locator("#tab-body").locator(
            "button, input:not([type=hidden]), select, textarea"
        )
        if tab != "info":
            assert controls.count() > 0, tab  # the edit controls are there, disabled
        for i in range(controls.count()):
            expect(controls.nth(i)).to_be_disabled()
        if tab == "configuration":
            why = page.locator('#user-properties .why[title^="cannot edit the user properties"]')
            expect(why).to_have_count(1)
        if tab == "artifacts":
            expect(page.get_by_role("link", name="imagenet-init")).to_be_visible()
        if tab in ("artifacts", "info"):
            screenshot(page, f"experiment-{tab}")
    expect(page.get_by_text("gpu-box-3")).to_be_visible()


def test_the_console_follows_new_lines_without_a_reload(page: Page, http: httpx.Client) -> None:
    tid = _draft(http, status="running")["id"]

    def post(lines: list[dict[str, Any]]) -> None:
        answer = http.post(f"/api/v1/tasks/{tid}/console", json={"lines": lines})
        assert answer.status_code == 200, answer.text

    post([{"stream": "stdout", "text": f"epoch {i}: loss {1 / (i + 1):.4f}"} for i in range(3)])
    page.goto(f"/experiments/{tid}/console")
    lines = page.locator("#console .line")
    expect(lines).to_have_count(3)
    page.evaluate("window.__sameDocument = true")
    post([{"stream": "stdout", "text": "epoch 3: loss 0.2500"}])
    post([{"stream": "stderr", "text": "warning: learning rate is high"}])
    expect(lines).to_have_count(5)
    expect(lines.last).to_have_class("line line-stderr")
    assert page.evaluate("window.__sameDocument") is True
    seqs = [int(s) for s in lines.evaluate_all("els => els.map(e => e.dataset.seq)")]
    assert seqs == sorted(set(seqs))  # each line once, in order
    screenshot(page, "experiment-console")
    # The run ends: the badge says so, the tail reads once more and stops.
    post([{"stream": "stdout", "text": "done"}])
    http.patch(f"/api/v1/tasks/{tid}", json={"status": "completed"})
    expect(lines).to_have_count(6)
    expect(page.locator("#console")).to_have_attribute("data-live", "false", timeout=10_000)


def test_a_tab_reloads_when_the_status_changes_elsewhere(page: Page, http: httpx.Client) -> None:
    tid = _draft(http)["id"]
    enqueued = http.post(f"/api/v1/tasks/{tid}/enqueue", json={"queue": "default"})
    assert enqueued.status_code == 200, enqueued.text
    page.goto(f"/experiments/{tid}/configuration")
    expect(page.locator(".read-only-note")).to_contain_text("a queued task")
    page.evaluate("window.__sameDocument = true")
    stopped = http.post(f"/api/v1/tasks/{tid}/stop", json={})
    assert stopped.status_code == 200, stopped.text
    # The header badge sees the new status and the tab re-renders itself, without a reload.
    expect(page.locator(".read-only-note")).to_contain_text("a stopped task", timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True
    args = page.locator('.hyper-section[data-section="Args"]')
    expect(args.get_by_role("button", name="Edit")).to_be_disabled()

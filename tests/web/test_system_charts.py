"""System metrics on the pages: the Scalars tab charts them in a collapsible System section
after the user's charts (named "CPU usage (%)", "Memory (GB)", "GPU 0 ..."), and tables
and the Compare page keep them after the user's metrics."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.waiting import wait_for
from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name, report_scalars

# Where the page keeps whether the System section is folded (static/js/system_charts.js).
STORE_KEY = "tunelab.charts.system"

MACHINE = {
    "cpu_usage": [12.5, 80.0, 95.2, 40.1],
    "memory_used_gb": [1.2, 2.4, 2.5, 2.5],
    "memory_free_gb": [10.0, 8.8, 8.7, 8.7],
    "disk_free_percent": [41.0, 41.0, 40.9, 40.9],
    "network_rx_mbs": [0.1, 3.2, 2.9, 0.2],
    "network_tx_mbs": [0.0, 0.4, 0.3, 0.1],
}
GPU = {
    "gpu_0_utilization": [0.0, 97.0, 99.0, 98.0],
    "gpu_0_mem_usage": [1.0, 60.0, 61.0, 61.0],
    "gpu_0_mem_used_gb": [0.2, 14.5, 14.7, 14.7],
    "gpu_0_temperature": [35.0, 70.0, 74.0, 75.0],
}


def monitored_task(http: httpx.Client, project: str, name: str = "monitored") -> dict[str, Any]:
    task = create_task(http, project, name, status="completed")
    report_scalars(http, task["id"], "loss", "train", [1.0, 0.6, 0.4, 0.3])
    report_scalars(http, task["id"], "accuracy", "val", [0.2, 0.6, 0.8, 0.85])
    for series, values in MACHINE.items():
        report_scalars(http, task["id"], ":monitor:machine", series, values)
    for series, values in GPU.items():
        report_scalars(http, task["id"], ":monitor:gpu", series, values)
    return task


def chart_titles(page: Page, cards: str) -> list[str]:
    return page.locator(f"{cards} .chart-card .chart-title").all_inner_texts()


def test_the_system_section_comes_after_the_users_charts_and_folds(
    page: Page, http: httpx.Client
) -> None:
    task = monitored_task(http, project_name("system"))
    page.goto(f"/experiments/{task['id']}/scalars")
    section = page.locator("#scalar-charts .system-charts")
    expect(section).to_be_visible()
    expect(section.locator(".chart-card canvas")).to_have_count(7)
    # The user's charts alone in the first grid, the system's in the section below them.
    users = "#scalar-charts > .chart-grid"
    assert chart_titles(page, users) == ["accuracy", "loss"]
    titles = chart_titles(page, "#scalar-charts .system-charts")
    assert titles == [
        "CPU usage (%)",
        "Memory (GB)",
        "Disk free (%)",
        "Network (MB/s)",
        "GPU 0 utilization and memory (%)",
        "GPU 0 memory (GB)",
        "GPU 0 temperature (°C)",
    ]
    user_box = page.locator(users).bounding_box()
    system_box = section.bounding_box()
    assert user_box and system_box and system_box["y"] >= user_box["y"] + user_box["height"]
    expect(section.locator("summary")).to_have_text("System")
    memory = section.locator('.chart-card[data-chart-key="system:Memory (GB)"]')
    labels = memory.locator(".u-legend .u-series:not(.raw-series) .u-label").all_inner_texts()
    assert labels == ["Iteration", "used by the run", "free"]
    # The summary table lists the user's series first too.
    rows = page.locator("#scalar-summary tr[data-metric]")
    metrics = [rows.nth(i).get_attribute("data-metric") for i in range(rows.count())]
    assert metrics[:2] == ["accuracy", "loss"] and set(metrics[2:]) == {
        ":monitor:gpu",
        ":monitor:machine",
    }
    screenshot(page, "scalars-system-section")

    # Folded, it stays folded on the next visit; unfolded, it stays open.
    section.locator("summary").click()
    expect(memory).to_be_hidden()
    wait_for(lambda: page.evaluate(f"localStorage.getItem('{STORE_KEY}')") == "closed")
    page.reload()
    expect(page.locator("#scalar-charts .system-charts")).not_to_have_attribute("open", "")
    expect(page.locator(".chart-card[data-chart-key='loss'] canvas")).to_have_count(1)
    page.locator("#scalar-charts .system-charts summary").click()
    expect(page.locator('.chart-card[data-chart-key="system:Memory (GB)"]')).to_be_visible()
    # The state is saved by the <details> element's toggle event, which comes a moment later.
    wait_for(lambda: page.evaluate(f"localStorage.getItem('{STORE_KEY}')") == "open")
    page.reload()
    expect(page.locator('.chart-card[data-chart-key="system:Memory (GB)"] canvas')).to_be_visible()


def test_without_system_metrics_there_is_no_section(page: Page, http: httpx.Client) -> None:
    task = create_task(http, project_name("system"), "plain", status="completed")
    report_scalars(http, task["id"], "loss", "train", [1.0, 0.5])
    page.goto(f"/experiments/{task['id']}/scalars")
    expect(page.locator(".chart-card[data-chart-key='loss'] canvas")).to_have_count(1)
    expect(page.locator("#scalar-charts .system-charts")).to_be_hidden()


def test_tables_and_compare_keep_the_users_metrics_first(http: httpx.Client) -> None:
    project = project_name("system")
    first = monitored_task(http, project, "a")
    second = monitored_task(http, project, "b")
    project_id = first["project"]["id"]
    picker = http.get(f"/table/columns?project_id={project_id}").text
    headings = re.findall(r"<h3>(.*?)</h3>", picker)
    assert headings[-2:] == ["Metrics", "System metrics"]
    users, system = picker.split("<h3>System metrics</h3>")
    assert 'data-name="loss/train"' in users and ":monitor:" not in users.split("<h3>Metrics")[1]
    assert 'data-name=":monitor:machine/cpu_usage"' in system
    compare = http.get(f"/compare?ids={first['id']},{second['id']}").text
    rows = re.findall(r'<tr data-metric="([^"]+)">', compare)
    assert rows[:2] == ["accuracy/val", "loss/train"]
    assert all(row.startswith(":monitor:") for row in rows[2:]) and len(rows) == 12

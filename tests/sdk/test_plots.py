"""Plots from the SDK: a real script reports each kind; bad data fails at the call; plots are
spooled when the server is away and replayed from an offline session by ``tunelab sync``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tests.services import free_port
from tunelab.sdk import plot_data
from tunelab.sdk.offline import sync_session
from tunelab.sdk.reporter import Reporter
from tunelab.sdk.transport import ApiClient

REPORT = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tunelab import Task

figure, axes = plt.subplots(figsize=(2, 1.5))
axes.plot([0, 1, 2], [1, 4, 2])

task = Task.init(project_name=PROJECT, task_name="plots")
logger = task.get_logger()
for it in (0, 10):
    logger.report_histogram("errors", "val", values=np.array([1, 4, 2]) + it, iteration=it,
                            xlabels=["a", "b", "c"], xaxis="class", yaxis="count")
logger.report_histogram("grouped", "both", values=np.array([[1, 2], [3, 4], [5, 6]]),
                        labels=["train", "val"])
logger.report_scatter2d("pr", "val", scatter=np.array([[0.0, 1.0], [0.5, 0.8], [1.0, 0.2]]),
                        iteration=10, xaxis="recall", yaxis="precision", mode="lines+markers")
logger.report_scatter2d("pr", "train", scatter=[(0, 1), (1, 0)], labels=["start", "end"])
logger.report_confusion_matrix("confusion", "val", matrix=np.array([[50, 2], [4, 44]]),
                               xlabels=["cat", "dog"], ylabels=["cat", "dog"],
                               xaxis="predicted", yaxis="actual")
frame = pd.DataFrame({"class": ["cat", "dog"], "f1": [0.91, float("nan")]})
logger.report_table("scores", "val", table_plot=frame)
logger.report_table("scores", "rows", table_plot=[["k", "v"], ["lr", 0.1]])
logger.report_matplotlib_figure("figure", "sample", figure, iteration=10)
logger.report_matplotlib_figure("figure", "still", figure, report_interactive=False)
try:
    logger.report_histogram("bad", "nan", values=[1.0, float("nan")])
except ValueError as exc:
    print("refused:", exc)
"""


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _only_task(client: ApiClient, project: str) -> str:
    found = client.list_tasks(project=project)
    assert found["total"] == 1, found
    task_id: str = found["items"][0]["id"]
    return task_id


def _check_reported(client: ApiClient, task_id: str) -> None:
    plots = client.get_plots(task_id)["plots"]
    keys = [(p["title"], p["series"], p["iteration"], p["kind"]) for p in plots]
    assert keys == [
        ("confusion", "val", 0, "confusion_matrix"),
        ("errors", "val", 0, "histogram"),
        ("errors", "val", 10, "histogram"),
        ("figure", "sample", 10, "plotly"),
        ("figure", "still", 0, "image"),
        ("grouped", "both", 0, "histogram"),
        ("pr", "train", 0, "scatter2d"),
        ("pr", "val", 10, "scatter2d"),
        ("scores", "rows", 0, "table"),
        ("scores", "val", 0, "table"),
    ]
    by_key = {(p["title"], p["series"], p["iteration"]): p["data"] for p in plots}
    assert by_key["errors", "val", 10]["values"] == [[11, 14, 12]]
    assert by_key["errors", "val", 10]["xlabels"] == ["a", "b", "c"]
    assert by_key["grouped", "both", 0]["values"] == [[1, 3, 5], [2, 4, 6]]  # per group
    assert by_key["pr", "val", 10]["x"] == [0.0, 0.5, 1.0]
    assert by_key["pr", "val", 10]["mode"] == "lines+markers"
    assert by_key["pr", "train", 0]["labels"] == ["start", "end"]
    assert by_key["confusion", "val", 0]["matrix"] == [[50, 2], [4, 44]]
    assert by_key["scores", "val", 0] == {
        "columns": ["class", "f1"],
        "rows": [["cat", 0.91], ["dog", None]],
    }
    assert by_key["scores", "rows", 0] == {"columns": ["k", "v"], "rows": [["lr", 0.1]]}
    # A figure of lines is converted to an interactive plotly figure; asked as an image, a PNG.
    assert by_key["figure", "sample", 10]["data"][0]["y"] == [1.0, 4.0, 2.0]
    assert by_key["figure", "still", 0]["base64"].startswith("iVBORw0KGgo")  # PNG
    last = client.get_plots(task_id, title="errors", last_only=True)["plots"]
    assert [p["iteration"] for p in last] == [10]


def test_a_script_reports_each_kind(api_url: str, client: ApiClient, tmp_path: Path) -> None:
    project = unique("sdk/plots")
    script = write_script(tmp_path / "code", f"PROJECT = {project!r}\n" + REPORT)
    result = run_script(script, script_env(api_url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert "refused: plot 'bad'/'nan': values[0] holds nan; numbers must be finite" in result.stdout
    assert "tunelab:" not in result.stderr  # nothing dropped, nothing spooled
    _check_reported(client, _only_task(client, project))


def test_offline_plots_are_replayed_by_sync(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("sdk/plots-offline")
    script = write_script(tmp_path / "code", f"PROJECT = {project!r}\n" + REPORT)
    env = script_env(api_url, tmp_path, TUNELAB_OFFLINE="1")
    env["TUNELAB_API_URL"] = "http://127.0.0.1:9"  # nothing may be sent while offline
    result = run_script(script, env)
    assert result.returncode == 0, result.stderr
    (session,) = (tmp_path / ".tunelab" / "offline").iterdir()
    for _ in range(2):  # a second sync sends nothing again
        sync = subprocess.run(
            [sys.executable, "-m", "tunelab.cli.main", "sync", str(session)],
            env=script_env(api_url, tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sync.returncode == 0, sync.stderr
    _check_reported(client, _only_task(client, project))


def test_plots_wait_in_the_spool_while_the_server_is_away(
    client: ApiClient, tmp_path: Path
) -> None:
    task = client.create_task({"name": "spooled", "project": unique("sdk/plots-spool")})
    spool = tmp_path / "spool.jsonl"
    away = ApiClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    reporter = Reporter(away, task["id"], spool_path=spool, exit_timeout=0.5)
    reporter.add_plot(plot_data.table("t", "s", table_plot=[["a"], [1]]))
    reporter.add_plot(plot_data.scatter2d("p", "s", [(0, 1)], iteration=3))
    reporter.close()
    assert spool.exists()
    # Replayed twice (the second as if the first answer was lost): stored once, by batch id.
    sync_session(spool, client)
    spool.with_name(spool.name + ".synced.json").unlink()  # forget the progress: all again
    sync_session(spool, client)
    plots = client.get_plots(task["id"])["plots"]
    assert [(p["title"], p["iteration"]) for p in plots] == [("p", 3), ("t", 0)]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: plot_data.histogram("h", "s", []), ValueError, "non-empty array"),
        (lambda: plot_data.histogram("h", "s", [[1, 2], [3]]), ValueError, "differ in length"),
        (lambda: plot_data.histogram("h", "s", np.array([1.0, np.inf])), ValueError, "finite"),
        (lambda: plot_data.scatter2d("p", "s", np.zeros((3, 3))), ValueError, "Nx2"),
        (lambda: plot_data.scatter2d("p", "s", [(0, 1)], mode="bars"), ValueError, "mode"),
        (lambda: plot_data.confusion_matrix("c", "s", [1, 2]), ValueError, "2-D"),
        (
            lambda: plot_data.confusion_matrix("c", "s", [[1]], xlabels=["a", "b"]),
            ValueError,
            "xlabels",
        ),
        (lambda: plot_data.table("t", "s"), ValueError, "one of table_plot, csv or url"),
        (lambda: plot_data.table("t", "s", table_plot="a,b"), TypeError, "DataFrame"),
        (lambda: plot_data.figure_png("f", "s", object()), TypeError, "matplotlib"),
        (lambda: plot_data.table("", "s", table_plot=[["a"]]), ValueError, "title"),
    ],
)
def test_bad_data_fails_at_the_call(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_tables_from_a_dataframe_index_and_a_csv_file(tmp_path: Path) -> None:
    frame = pd.DataFrame({"f1": np.array([0.5, 0.75])}, index=pd.Index(["cat", "dog"], name="cls"))
    assert plot_data.table("t", "s", table_plot=frame)["data"] == {
        "columns": ["cls", "f1"],
        "rows": [["cat", 0.5], ["dog", 0.75]],
    }
    path = tmp_path / "scores.csv"
    path.write_text("class,f1,n\ncat,0.5,3\ndog,n/a,4\n")
    assert plot_data.table("t", "s", csv=path)["data"] == {
        "columns": ["class", "f1", "n"],
        "rows": [["cat", 0.5, 3], ["dog", "n/a", 4]],
    }

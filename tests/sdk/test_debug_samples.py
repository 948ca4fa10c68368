"""Debug samples through the SDK against a real server: a script reports images of every
kind, audio, HTML, a file and a URL; the files are read back from the server's file store,
the history bound deletes the older files, a reset removes the rest, and an offline run
keeps its samples until ``sync``."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.scripts import run_script, script_env, unique, write_script
from tunelab.sdk.offline import sync_session
from tunelab.sdk.transport import ApiClient

REPORTER = r"""
import io, sys, wave
import numpy as np
from PIL import Image
from tunelab import Task

task = Task.init(project_name=sys.argv[1], task_name="samples")
log = task.get_logger()
rgb = np.zeros((8, 6, 3), dtype=np.uint8); rgb[..., 0] = 200
log.report_image("arrays", "rgb", iteration=1, image=rgb)
log.report_image("arrays", "float", iteration=1, image=np.full((4, 4), 0.5))
log.report_image("arrays", "gray", iteration=1, image=np.arange(16, dtype=np.uint8).reshape(4, 4))
rgba = np.zeros((3, 3, 4), dtype=np.uint8); rgba[..., 3] = 77
log.report_image("arrays", "rgba", iteration=1, matrix=rgba)
log.report_image("pil", "img", iteration=2, image=Image.new("RGB", (5, 2), (0, 0, 255)))
Image.new("L", (3, 3), 9).save("photo.png")
log.report_image("files", "photo", iteration=0, local_path="photo.png")
log.report_image("links", "remote", iteration=0, url="https://example.com/cat.jpg")
with wave.open("tone.wav", "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
    w.writeframes(b"\x00\x10" * 8000)
log.report_media("audio", "tone", iteration=0, local_path="tone.wav")
open("page.html", "w").write("<html><body><h1>hi</h1></body></html>")
log.report_media("html", "page", iteration=0, local_path="page.html")
log.report_media("text", "notes", iteration=0, stream=io.StringIO("a,b\n1,2\n"),
                 file_extension="csv")
for i in range(5):
    log.report_image("history", "bounded", iteration=i, image=np.full((2, 2), i * 10, np.uint8),
                     max_image_history=2)
    task.flush()   # each iteration registered before the next (the order the bound sees)
print("TASK " + task.id)
"""


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _run(api_url: str, tmp_path: Path, **env: str) -> tuple[str, str]:
    code = tmp_path / "code"
    write_script(code, REPORTER)
    result = run_script(
        code / "train.py", script_env(api_url, tmp_path / "home", **env), unique("dbg")
    )
    assert result.returncode == 0, result.stderr
    task = next(x for x in result.stdout.splitlines() if x.startswith("TASK ")).split()[1]
    return task, result.stderr


def _file(client: ApiClient, uri: str) -> httpx.Response:
    assert uri.startswith("tunelab://"), uri
    return httpx.get(f"{client.base_url}/api/v1/files/{uri.removeprefix('tunelab://')}")


def _fetch(client: ApiClient, uri: str) -> bytes:
    answer = _file(client, uri)
    assert answer.status_code == 200, (uri, answer.status_code)
    return answer.content


def _gone(client: ApiClient, uri: str) -> bool:
    return _file(client, uri).status_code == 404


def _by_key(samples: list[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, Any]]:
    return {(s["title"], s["series"], s["iteration"]): s for s in samples}


def test_every_kind_of_sample_is_stored_and_bounded(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    task_id, stderr = _run(api_url, tmp_path)
    assert "failed" not in stderr
    answer = client.get_debug_samples(task_id)
    found = _by_key(answer["samples"])

    def png(key: tuple[str, str, int]) -> Image.Image:
        sample = found[key]
        assert (sample["kind"], sample["mime"]) == ("image", "image/png")
        return Image.open(io.BytesIO(_fetch(client, sample["uri"])))

    rgb = png(("arrays", "rgb", 1))
    assert (rgb.size, rgb.mode, rgb.getpixel((0, 0))) == ((6, 8), "RGB", (200, 0, 0))
    gray = png(("arrays", "float", 1))
    assert (gray.mode, gray.getpixel((1, 1))) == ("L", 128)  # 0.5 of 0..1 -> 128 of 0..255
    assert png(("arrays", "gray", 1)).getpixel((3, 3)) == 15
    assert png(("arrays", "rgba", 1)).getpixel((0, 0)) == (0, 0, 0, 77)
    assert png(("pil", "img", 2)).getpixel((4, 1)) == (0, 0, 255)
    assert png(("files", "photo", 0)).getpixel((0, 0)) == 9

    link = found[("links", "remote", 0)]
    assert (link["uri"], link["kind"], link["size"]) == ("https://example.com/cat.jpg", "image", 0)
    audio = found[("audio", "tone", 0)]
    assert (audio["kind"], audio["mime"]) == ("audio", "audio/x-wav")
    assert _fetch(client, audio["uri"])[:4] == b"RIFF"
    html = found[("html", "page", 0)]
    assert (html["kind"], html["mime"]) == ("html", "text/html")
    text = found[("text", "notes", 0)]
    assert (text["kind"], _fetch(client, text["uri"])) == ("file", b"a,b\n1,2\n")

    # Five iterations with a history of two: the newest two kept, the others' files deleted.
    series = {(s["title"], s["series"]): s["iterations"] for s in answer["series"]}
    assert series[("history", "bounded")] == [3, 4]
    assert png(("history", "bounded", 4)).getpixel((0, 0)) == 40
    latest = _by_key(client._request("GET", f"/tasks/{task_id}/debug_samples/latest")["samples"])
    assert ("history", "bounded", 4) in latest and ("history", "bounded", 3) not in latest
    bounded_folder = found[("history", "bounded", 4)]["uri"].rsplit("/", 1)[0]
    for old in range(3):
        assert _gone(client, f"{bounded_folder}/{old}.png")

    # A reset removes the samples, and with delete_artifacts their files.
    uris = [s["uri"] for s in answer["samples"] if s["uri"].startswith("tunelab://")]
    reset = client.reset_task(task_id, delete_artifacts=True)
    assert set(uris) <= set(reset["deleted_files"]), reset["failed_files"]
    assert "https://example.com/cat.jpg" not in reset["deleted_files"]
    assert client.get_debug_samples(task_id)["samples"] == []
    assert all(_gone(client, uri) for uri in uris)


def test_bad_arguments_fail_at_the_call(api_url: str, tmp_path: Path) -> None:
    code = tmp_path / "code"
    write_script(
        code,
        """
        import io, sys
        import numpy as np
        from tunelab import Task
        log_task = Task.init(project_name=sys.argv[1], task_name="bad")
        log = log_task.get_logger()
        for call in (
            lambda: log.report_image("t", "s", image=np.zeros((2, 2, 2))),
            lambda: log.report_image("t", "s"),
            lambda: log.report_image("t", "s", local_path="missing.png"),
            lambda: log.report_media("t", "s", url="ftp://x/y.wav"),
            lambda: log.report_image("t", "s", image=np.zeros((2, 2)), max_image_history=0),
            # Names as a plot's: non-empty, at most 512 characters, text the stores hold.
            lambda: log.report_image("", "s", image=np.zeros((2, 2))),
            lambda: log.report_image("t", "s" * 513, image=np.zeros((2, 2))),
            lambda: log.report_image("t\\x00", "s", image=np.zeros((2, 2))),
            lambda: log.report_media("t", "\\udcff", stream=io.StringIO("x"), file_extension="txt"),
        ):
            try:
                call()
            except (ValueError, TypeError, FileNotFoundError) as exc:
                print("REFUSED", type(exc).__name__)
        long = "t" * 300  # more than a file name may hold: the sample's folder is cut short
        log.report_image(long, "s", iteration=3, image=np.zeros((2, 2), np.uint8))
        print("TASK", log_task.id)
        """,
    )
    result = run_script(code / "train.py", script_env(api_url, tmp_path / "home"), unique("dbg"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("REFUSED") == 9, result.stdout
    assert "UnicodeEncodeError" not in result.stdout + result.stderr
    task_id = result.stdout.split("TASK ")[1].split()[0]
    with ApiClient(api_url) as client:
        (sample,) = client.get_debug_samples(task_id)["samples"]
    assert (sample["title"], sample["iteration"]) == ("t" * 300, 3)


def test_offline_samples_are_uploaded_by_sync(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    offline_dir = tmp_path / "offline"
    _, _ = _run(api_url, tmp_path, TUNELAB_OFFLINE="1", TUNELAB_OFFLINE_DIR=str(offline_dir))
    (session,) = {p.parent for p in offline_dir.rglob("session.jsonl")}
    ops = [json.loads(line)["op"] for line in (session / "session.jsonl").read_text().splitlines()]
    assert ops.count("debug_sample") == 15
    task_id = sync_session(session, client)
    samples = _by_key(client.get_debug_samples(task_id)["samples"])
    assert sorted(k[2] for k in samples if k[0] == "history") == [3, 4]
    rgb = Image.open(io.BytesIO(_fetch(client, samples[("arrays", "rgb", 1)]["uri"])))
    assert rgb.getpixel((0, 0)) == (200, 0, 0)


def test_a_destination_of_its_own_keeps_only_the_history(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    share = tmp_path / "share"
    code = tmp_path / "code"
    write_script(
        code,
        """
        import sys
        import numpy as np
        from tunelab import Task
        task = Task.init(project_name=sys.argv[1], task_name="own", output_uri=sys.argv[2])
        for i in range(4):
            task.get_logger().report_image("h", "s", iteration=i, image=np.zeros((2, 2)),
                                           max_image_history=2)
        print("TASK " + task.id)
        """,
    )
    env = script_env(api_url, tmp_path / "home")
    result = run_script(code / "train.py", env, unique("dbg"), share.as_uri())
    assert result.returncode == 0, result.stderr
    task_id = result.stdout.split("TASK ")[1].split()[0]
    samples = client.get_debug_samples(task_id)["samples"]
    assert [s["iteration"] for s in samples] == [2, 3]
    assert all(s["uri"].startswith(share.as_uri()) for s in samples)
    assert sorted(p.name for p in share.rglob("*.png")) == ["2.png", "3.png"]

"""Lifecycle actions in the browser: the modals, the direct actions, refusals, the bulk bar,
the project picker; and in Chromium the context menu, the Clone, Reset and Enqueue flows."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name

HX = {"HX-Request": "true"}


def hx_post(http: httpx.Client, url: str, data: Any = None, **headers: str) -> httpx.Response:
    return http.post(url, data=data or {}, headers={**HX, **headers})


def trigger(response: httpx.Response) -> dict[str, Any]:
    """The HX-Trigger events of a successful action."""
    assert response.status_code == 200, response.text
    events: dict[str, Any] = json.loads(response.headers["HX-Trigger"])
    return events


def api_task(http: httpx.Client, task_id: str) -> dict[str, Any]:
    response = http.get(f"/api/v1/tasks/{task_id}")
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


def api_refusal(http: httpx.Client, task_id: str, action: str) -> str:
    response = http.post(f"/api/v1/tasks/{task_id}/{action}", json={})
    assert response.status_code == 409, response.text
    message: str = response.json()["error"]["message"]
    return message


def stored_file(http: httpx.Client, content: bytes) -> tuple[str, str]:
    """A file in the server's own file store: its key and its ``tunelab://`` URI."""
    key = f"web-actions/{uuid.uuid4().hex}/weights.bin"
    assert http.put(f"/api/v1/files/{key}", content=content).status_code == 201
    return key, f"tunelab://{key}"


def with_artifact(http: httpx.Client, task_id: str, content: bytes = b"weights") -> str:
    """An artifact of the task whose file is in the server's file store; answers its key."""
    key, uri = stored_file(http, content)
    body = {
        "type": "model",
        "format": "bin",
        "uri": uri,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    response = http.put(f"/api/v1/tasks/{task_id}/artifacts/weights", json=body)
    assert response.status_code == 200, response.text
    return key


# --- modals and single actions (httpx) ------------------------------------------------------


def test_each_modal_is_a_form_for_the_dialog_and_a_page_of_its_own(http: httpx.Client) -> None:
    project = project_name()
    draft = create_task(http, project, "modal-source")
    done = create_task(http, project, "modal-done", status="completed")
    for task, action, button in (
        (draft, "clone", "Clone"),
        (draft, "enqueue", "Enqueue"),
        (draft, "delete", "Delete"),
        (done, "reset", "Reset"),
    ):
        url = f"/experiments/{task['id']}/{action}"
        fragment = http.get(url, headers=HX)
        assert fragment.status_code == 200, fragment.text
        assert 'id="modal-title"' in fragment.text and "<html" not in fragment.text
        assert f'hx-post="{url}"' in fragment.text and f">{button}</button>" in fragment.text
        page = http.get(url)
        assert page.status_code == 200 and "<html" in page.text and 'id="modal-title"' in page.text
    clone = http.get(f"/experiments/{draft['id']}/clone", headers=HX).text
    assert "Set modal-source as parent" in clone and 'name="comment"' in clone
    for task, action in ((done, "reset"), (draft, "delete")):
        modal = http.get(f"/experiments/{task['id']}/{action}", headers=HX)
        assert 'name="delete_artifacts"' in modal.text


def test_a_modal_the_status_does_not_allow_is_refused_with_the_stores_message(
    http: httpx.Client,
) -> None:
    task = create_task(http, project_name(), "running-one", status="running")
    for action in ("enqueue", "reset", "delete"):
        answer = http.get(f"/experiments/{task['id']}/{action}", headers=HX)
        assert answer.status_code == 409
        assert answer.headers["HX-Retarget"] == "#toasts"
        if action == "delete":
            refused = http.delete(f"/api/v1/tasks/{task['id']}")
            assert refused.status_code == 409
            message = refused.json()["error"]["message"]
        else:
            message = api_refusal(http, task["id"], action)
        assert message in answer.text


def test_clone_lands_on_the_draft_in_a_new_project_with_its_description_and_parent(
    http: httpx.Client,
) -> None:
    source = create_task(http, project_name(), "source", status="completed", comment="old")
    new_project = f"{project_name('cloned')}/tuned"
    answer = hx_post(
        http,
        f"/experiments/{source['id']}/clone",
        {"project": new_project, "comment": "try a smaller lr", "set_as_parent": "on"},
    )
    events = trigger(answer)
    (draft_id,) = events["tasks-changed"]["ids"]
    assert answer.headers["HX-Redirect"] == f"/experiments/{draft_id}/execution"
    draft = api_task(http, draft_id)
    assert draft["status"] == "draft" and draft["name"] == "Clone Of source"
    assert draft["project"]["name"] == new_project
    assert draft["comment"] == "try a smaller lr"
    assert draft["parent"] == source["id"]


def test_direct_actions_answer_the_events_the_pages_refresh_on(http: httpx.Client) -> None:
    project = project_name()
    queued = create_task(http, project, "waiting ✓", status="draft")
    assert http.post(f"/api/v1/tasks/{queued['id']}/enqueue", json={}).status_code == 200
    events = trigger(hx_post(http, f"/experiments/{queued['id']}/dequeue"))
    assert events["tasks-changed"] == {"ids": [queued["id"]]}
    # Any script in a name: the header is JSON with its escapes, read back whole.
    assert events["toast"] == {"message": "Dequeued waiting ✓: a draft again", "kind": "ok"}
    assert events["close-modal"] is True
    assert api_task(http, queued["id"])["status"] == "draft"

    done = create_task(http, project, "done", status="completed")
    trigger(hx_post(http, f"/experiments/{done['id']}/publish"))
    assert api_task(http, done["id"])["status"] == "published"
    trigger(hx_post(http, f"/experiments/{done['id']}/archive"))
    assert api_task(http, done["id"])["archived"] is True
    events = trigger(hx_post(http, f"/experiments/{done['id']}/unarchive"))
    assert events["toast"]["message"] == "Restored done from the archive"
    assert api_task(http, done["id"])["archived"] is False

    running = create_task(http, project, "long run", status="running")
    events = trigger(hx_post(http, f"/experiments/{running['id']}/stop"))
    assert events["toast"]["message"].startswith("Asked long run to stop")
    assert api_task(http, running["id"])["stop_requested"] is True

    # Without JavaScript, a plain form post is sent back to the experiment.
    plain = http.post(f"/experiments/{done['id']}/archive", data={})
    assert plain.status_code == 303 and plain.headers["location"] == f"/experiments/{done['id']}"


def test_a_refused_action_is_a_toast_with_the_stores_own_message(http: httpx.Client) -> None:
    task = create_task(http, project_name(), "not yet", status="draft")
    for action in ("publish", "dequeue", "stop"):
        answer = hx_post(http, f"/experiments/{task['id']}/{action}")
        assert answer.status_code == 409
        assert answer.headers["HX-Retarget"] == "#toasts"
        assert 'class="toast toast-error"' in answer.text
        message = api_refusal(http, task["id"], action)
        assert message in answer.text, (message, answer.text)


def test_enqueue_in_the_queue_picked_and_the_picker_flags_an_unserved_queue(
    http: httpx.Client,
) -> None:
    served, unserved = f"served-{uuid.uuid4().hex[:6]}", f"idle-{uuid.uuid4().hex[:6]}"
    worker = f"w-{uuid.uuid4().hex[:6]}"
    body = {"id": worker, "queues": [served], "host": "box"}
    assert http.post("/api/v1/workers", json=body).status_code == 200
    assert http.post("/api/v1/queues", json={"name": unserved}).status_code in (200, 201)
    task = create_task(http, project_name(), "to run")
    modal = http.get(f"/experiments/{task['id']}/enqueue", headers=HX).text
    labels = re.findall(r'<label class="queue-choice">(.*?)</label>', modal, re.S)
    mine = {name: text for name in (served, unserved) for text in labels if f'"{name}"' in text}
    assert f"served by {worker}" in mine[served] and "No worker serves" not in mine[served]
    assert "No worker serves this queue" in mine[unserved]

    events = trigger(hx_post(http, f"/experiments/{task['id']}/enqueue", {"queue": served}))
    assert events["toast"]["message"] == f"Enqueued to run in {served}"
    assert api_task(http, task["id"])["queue"] == served


def test_delete_with_its_files_and_from_its_own_page_goes_to_the_project(
    http: httpx.Client,
) -> None:
    task = create_task(http, project_name(), "doomed")
    key = with_artifact(http, task["id"])
    answer = hx_post(
        http,
        f"/experiments/{task['id']}/delete",
        {"delete_artifacts": "on"},
        **{"HX-Current-URL": f"http://x/experiments/{task['id']}/execution"},
    )
    events = trigger(answer)
    assert events["toast"] == {"message": "Deleted doomed. 1 file deleted.", "kind": "ok"}
    assert answer.headers["HX-Redirect"] == f"/projects/{task['project']['id']}"
    assert http.get(f"/api/v1/tasks/{task['id']}").status_code == 404
    assert http.get(f"/api/v1/files/{key}").status_code == 404

    kept = create_task(http, project_name(), "kept files")
    key = with_artifact(http, kept["id"])
    answer = hx_post(http, f"/experiments/{kept['id']}/delete", {})
    assert "HX-Redirect" not in answer.headers
    assert trigger(answer)["toast"]["message"] == "Deleted kept files."
    assert http.get(f"/api/v1/files/{key}").status_code == 200


def test_reset_reports_a_file_it_could_not_delete_in_a_warning_toast(http: httpx.Client) -> None:
    task = create_task(http, project_name(), "odd files", status="failed")
    key = with_artifact(http, task["id"])
    odd = {"type": "x", "format": "x", "uri": "bogus://nowhere/x", "size": 1, "sha256": "ab" * 32}
    assert http.put(f"/api/v1/tasks/{task['id']}/artifacts/odd", json=odd).status_code == 200
    answer = hx_post(http, f"/experiments/{task['id']}/reset", {"delete_artifacts": "on"})
    toast = trigger(answer)["toast"]
    assert toast["kind"] == "warn"
    assert toast["message"].startswith("Reset odd files: a draft again. 1 file deleted. 1 file")
    assert "could not be deleted: bogus://nowhere/x (" in toast["message"]
    assert "unknown scheme" in toast["message"]
    assert http.get(f"/api/v1/files/{key}").status_code == 404


# --- bulk (httpx) ---------------------------------------------------------------------------


def test_bulk_enqueue_applies_to_each_task_and_names_the_refused_ones(http: httpx.Client) -> None:
    project = project_name()
    a = create_task(http, project, "bulk-a")
    b = create_task(http, project, "bulk-b")
    busy = create_task(http, project, "bulk-busy", status="running")
    queue = f"bulk-{uuid.uuid4().hex[:6]}"
    ids = [a["id"], busy["id"], b["id"]]
    answer = hx_post(http, "/experiments/bulk", {"action": "enqueue", "queue": queue, "ids": ids})
    events = trigger(answer)
    assert events["tasks-changed"]["ids"] == [a["id"], b["id"]]
    refusal = api_refusal(http, busy["id"], "enqueue")
    assert events["toast"] == {
        "message": f"Enqueued 2 of 3 experiments in {queue}. Refused: bulk-busy ({refusal}).",
        "kind": "warn",
    }
    entries = http.get(f"/api/v1/queues/{queue}/entries").json()["items"]
    assert [e["task"]["id"] for e in entries] == [a["id"], b["id"]]

    # All refused: an error toast; nothing changed.
    events = trigger(hx_post(http, "/experiments/bulk", {"action": "publish", "ids": ids}))
    assert events["toast"]["kind"] == "error" and events["tasks-changed"]["ids"] == []
    assert events["toast"]["message"].startswith("Published 0 of 3 experiments. Refused: bulk-a")


def test_bulk_reset_deletes_the_files_when_asked_and_its_modal_carries_the_ids(
    http: httpx.Client,
) -> None:
    project = project_name()
    tasks = [create_task(http, project, f"r{i}", status="completed") for i in range(2)]
    keys = [with_artifact(http, t["id"]) for t in tasks]
    ids = ",".join(t["id"] for t in tasks)
    modal = http.get(f"/experiments/bulk?action=reset&ids={ids}", headers=HX)
    assert modal.status_code == 200 and "Reset 2 experiments" in modal.text
    assert all(f'name="ids" value="{t["id"]}"' in modal.text for t in tasks)
    events = trigger(
        hx_post(
            http,
            "/experiments/bulk",
            {"action": "reset", "ids": [t["id"] for t in tasks], "delete_artifacts": "on"},
        )
    )
    assert events["toast"] == {
        "message": "Reset 2 of 2 experiments. 2 files deleted.",
        "kind": "ok",
    }
    assert all(api_task(http, t["id"])["status"] == "draft" for t in tasks)
    assert all(http.get(f"/api/v1/files/{key}").status_code == 404 for key in keys)

    unknown = hx_post(http, "/experiments/bulk", {"action": "explode", "ids": ids})
    assert unknown.status_code == 400 and "unknown bulk action" in unknown.text
    nothing = hx_post(http, "/experiments/bulk", {"action": "archive"})
    assert nothing.status_code == 400 and "select one or more experiments" in nothing.text


# --- the project picker (httpx) -------------------------------------------------------------


def test_the_project_picker_finds_projects_as_typed_and_offers_to_create_a_new_one(
    http: httpx.Client,
) -> None:
    root = project_name("picker")
    for leaf in ("alpha", "beta"):
        create_task(http, f"{root}/{leaf}", "t")

    def options(q: str) -> str:
        answer = http.get("/project-picker", params={"q": q}, headers=HX)
        assert answer.status_code == 200, answer.text
        return answer.text

    found = options(root.upper())  # any case
    assert f'data-project="{root}/alpha"' in found and f'data-project="{root}/beta"' in found
    assert "Create New" not in found, "the project exists"
    narrowed = options(f"{root}/al")
    assert f"{root}/alpha" in narrowed and f"{root}/beta" not in narrowed
    assert 'data-new="1"' in narrowed and f"Create New <strong>{root}/al</strong>" in narrowed
    fresh = options(f"{root}/gamma")
    assert "picker-option picker-create" in fresh and f"{root}/alpha" not in fresh
    bad = options(f"{root}//x")
    assert "Create New" not in bad and "must not be empty" in bad


# --- in the browser -------------------------------------------------------------------------


def menu_items(page: Page) -> list[str]:
    menu = page.get_by_role("menu")
    expect(menu).to_be_visible()
    return menu.get_by_role("menuitem").all_inner_texts()


def test_the_row_menu_offers_only_what_each_status_allows(page: Page, http: httpx.Client) -> None:
    project = project_name()
    draft = create_task(http, project, "a draft")
    running = create_task(http, project, "a run", status="running")
    create_task(http, project, "a result", status="completed")
    page.goto(f"/projects/{draft['project']['id']}")
    page.locator(f'tr.task-row[data-task-id="{draft["id"]}"]').click(button="right")
    assert menu_items(page) == ["Clone", "Enqueue", "Archive", "Delete"]
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_have_count(0)
    page.locator(f'tr.task-row[data-task-id="{running["id"]}"]').click(button="right")
    assert menu_items(page) == ["Clone", "Stop"]
    page.mouse.click(5, 5)  # outside
    expect(page.get_by_role("menu")).to_have_count(0)
    page.get_by_role("button", name="Actions for a result").click()
    assert menu_items(page) == ["Clone", "Reset", "Publish", "Archive"]
    screenshot(page, "context-menu")


def test_the_menu_by_keyboard_and_a_direct_action_refreshes_the_table(
    page: Page, http: httpx.Client
) -> None:
    done = create_task(http, project_name(), "kbd result", status="completed")
    page.goto(f"/projects/{done['project']['id']}")
    button = page.get_by_role("button", name="Actions for kbd result")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("menuitem", name="Clone")).to_be_focused()
    page.keyboard.press("ArrowUp")  # wraps to the last
    expect(page.get_by_role("menuitem", name="Archive")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_have_count(0)
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("menuitem", name="Publish")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".toast").filter(has_text="Published kbd result")).to_be_visible()
    row = page.locator(f'tr.task-row[data-task-id="{done["id"]}"]')
    expect(row).to_have_attribute("data-status", "published")
    assert api_task(http, done["id"])["status"] == "published"


def test_clone_by_right_click_into_a_new_project_lands_on_the_draft(
    page: Page, http: httpx.Client
) -> None:
    source = create_task(http, project_name(), "seed run", status="completed")
    new_project = f"{project_name('fresh')}/tuned"
    page.goto(f"/projects/{source['project']['id']}")
    page.locator(f'tr.task-row[data-task-id="{source["id"]}"]').click(button="right")
    page.get_by_role("menuitem", name="Clone").click()
    dialog = page.locator("dialog#modal")
    expect(dialog.get_by_role("heading", name="Clone experiment")).to_be_visible()
    field = dialog.get_by_label("Project")
    field.fill("")
    field.press_sequentially(new_project)
    create = dialog.get_by_role("button", name=f"Create New {new_project}")
    expect(create).to_be_visible()
    create.click()
    expect(field).to_have_value(new_project)
    expect(dialog.locator(".picker-hint")).to_contain_text("A new project")
    dialog.get_by_label("Description").fill("smaller learning rate")
    dialog.get_by_label("Set seed run as parent").check()
    screenshot(page, "clone-modal")
    dialog.get_by_role("button", name="Clone", exact=True).click()
    expect(page).to_have_url(re.compile(r"/experiments/[0-9a-f]+/execution$"))
    draft_id = page.url.rsplit("/", 2)[-2]
    assert draft_id != source["id"]
    draft = api_task(http, draft_id)
    assert (draft["status"], draft["project"]["name"]) == ("draft", new_project)
    assert (draft["comment"], draft["parent"]) == ("smaller learning rate", source["id"])
    expect(page.locator("#task-status .status")).to_have_text("Draft")


def test_reset_with_delete_artifacts_removes_the_files(page: Page, http: httpx.Client) -> None:
    task = create_task(http, project_name(), "to reset", status="completed")
    key = with_artifact(http, task["id"])
    assert http.get(f"/api/v1/files/{key}").status_code == 200
    page.goto(f"/experiments/{task['id']}/info")
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Reset").click()
    dialog = page.locator("dialog#modal")
    expect(dialog.get_by_role("heading", name="Reset experiment")).to_be_visible()
    dialog.get_by_label("Also delete the artifact and model files from storage").check()
    dialog.get_by_role("button", name="Reset", exact=True).click()
    expect(
        page.locator(".toast").filter(has_text="Reset to reset: a draft again. 1 file deleted.")
    ).to_be_visible()
    expect(dialog).not_to_be_visible()
    expect(page.locator("#task-status .status")).to_have_text("Draft")
    assert not api_task(http, task["id"])["artifacts"]
    assert http.get(f"/api/v1/files/{key}").status_code == 404


def test_enqueue_via_the_queue_picker_and_a_refusal_shows_the_stores_message(
    page: Page, http: httpx.Client, allowed_console_errors: list[str]
) -> None:
    allowed_console_errors.extend([r"status of 409", r"Error Code 409"])
    queue = f"pick-{uuid.uuid4().hex[:6]}"
    assert http.post("/api/v1/queues", json={"name": queue}).status_code in (200, 201)
    task = create_task(http, project_name(), "queue me")
    page.goto(f"/projects/{task['project']['id']}")
    row = page.locator(f'tr.task-row[data-task-id="{task["id"]}"]')
    row.click(button="right")
    page.get_by_role("menuitem", name="Enqueue").click()
    dialog = page.locator("dialog#modal")
    choice = dialog.locator("label.queue-choice").filter(has_text=queue)
    expect(choice).to_contain_text("No worker serves this queue")
    choice.get_by_role("radio").check()
    dialog.get_by_role("button", name="Enqueue", exact=True).click()
    expect(page.locator(".toast").filter(has_text=f"Enqueued queue me in {queue}")).to_be_visible()
    expect(row).to_have_attribute("data-status", "queued")
    # The row's menu is now stale on purpose: the task is taken meanwhile.
    assert http.post(f"/api/v1/tasks/{task['id']}/dequeue", json={}).status_code == 200
    assert http.post(f"/api/v1/tasks/{task['id']}/enqueue", json={}).status_code == 200
    assert http.post(f"/api/v1/tasks/{task['id']}/stop", json={}).status_code == 200
    page.evaluate(f"Tunelab.runAction({json.dumps(task['id'])}, 'dequeue')")
    message = api_refusal(http, task["id"], "dequeue")
    expect(page.locator(".toast-error")).to_contain_text(message)


def test_the_bulk_bar_follows_the_selection_and_reports_refusals(
    page: Page, http: httpx.Client
) -> None:
    project = project_name()
    a = create_task(http, project, "sel-a", status="completed")
    b = create_task(http, project, "sel-b", status="draft")
    page.goto(f"/projects/{a['project']['id']}")
    bar = page.locator("[data-bulk-bar]")
    publish = bar.get_by_role("button", name="Publish")
    compare = bar.get_by_role("button", name="Compare")
    expect(publish).to_be_disabled()
    page.get_by_label("Select sel-b").check()
    expect(bar.locator("[data-bulk-count]")).to_have_text("1")
    expect(publish).to_be_disabled()  # a draft cannot be published
    expect(compare).to_be_disabled()
    page.get_by_label("Select sel-a").check()
    expect(publish).to_be_enabled()
    expect(compare).to_be_enabled()
    publish.click()
    toast = page.locator(".toast").filter(has_text="Published 1 of 2 experiments")
    expect(toast).to_contain_text("Refused: sel-b (cannot publish a draft task")
    assert api_task(http, a["id"])["status"] == "published"
    assert api_task(http, b["id"])["status"] == "draft"

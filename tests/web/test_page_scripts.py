"""The pages' script lives only in the static files: the Content-Security-Policy runs nothing
else, so no template may hold an inline handler, an inline script or code for htmx to eval.

Most of these read the templates as text: a new template with ``onclick=`` or ``hx-on:``
fails here at once, before any browser test happens to visit it. The last ones use what
used to be inline code in real Chromium under the policy (a refused script is a console
error, which fails the test).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.seed import create_task, project_name
from tunelab.server.web.templating import TEMPLATES_DIR

TEMPLATES = sorted(TEMPLATES_DIR.rglob("*.html"))
# on...= handlers (onclick, onsubmit, onload...), as HTML attributes: after a space or quote.
INLINE_HANDLER = re.compile(r"""[\s"']on[a-z]+\s*=""", re.IGNORECASE)
HX_ON = re.compile(r"\bhx-on\b|\bdata-hx-on\b|\bhx-on:", re.IGNORECASE)
EVAL_VALUES = re.compile(r"""(hx-vals|hx-vars|hx-headers)\s*=\s*["']\s*(js|javascript):""", re.I)
TRIGGER_FILTER = re.compile(r"""hx-trigger\s*=\s*["'][^"']*\[""", re.IGNORECASE)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.IGNORECASE | re.DOTALL)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)


def test_the_templates_are_found() -> None:
    assert len(TEMPLATES) >= 40
    assert TEMPLATES_DIR / "base.html" in TEMPLATES


def inline_script_problems(text: str) -> list[str]:
    problems = [f"inline handler {m.group(0)!r}" for m in INLINE_HANDLER.finditer(text)]
    problems += [f"htmx handler {m.group(0)!r}" for m in HX_ON.finditer(text)]
    problems += [f"code to eval {m.group(0)!r}" for m in EVAL_VALUES.finditer(text)]
    problems += [f"trigger filter (eval) {m.group(0)!r}" for m in TRIGGER_FILTER.finditer(text)]
    problems += [f"javascript: URL {m.group(0)!r}" for m in JAVASCRIPT_URL.finditer(text)]
    for attrs, body in SCRIPT_TAG.findall(text):
        data = re.search(r"""type\s*=\s*["']application/json["']""", attrs)
        if body.strip() and not data:
            problems.append(f"inline <script{attrs}> with code")
        if not body.strip() and "src=" not in attrs:
            problems.append(f"<script{attrs}> without src")
    return problems


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(TEMPLATES_DIR)))
def test_no_template_holds_inline_script(template: Path) -> None:
    assert not inline_script_problems(template.read_text(encoding="utf-8"))


def test_the_check_sees_each_kind_of_inline_script() -> None:
    # The check itself: each of these would run code the policy must refuse.
    for text in (
        '<form onsubmit="return false">',
        "<button onclick='go()'>",
        '<form hx-on::after-request="this.reset()">',
        "<div hx-vals='js:{a: location}'>",
        '<div hx-trigger="click[ctrlKey]">',
        '<a href="javascript:alert(1)">',
        "<script>alert(1)</script>",
    ):
        assert inline_script_problems(text), text
    for text in (
        '<script src="/static/js/app.js" defer></script>',
        '<script type="application/json" id="data">{"a": 1}</script>',
        '<div hx-vals=\'{"op": "save"}\' data-onion="x">',
    ):
        assert not inline_script_problems(text), text


def test_htmx_runs_without_eval() -> None:
    base = (TEMPLATES_DIR / "base.html").read_text(encoding="utf-8")
    config = re.search(r"""<meta name="htmx-config" content='([^']*)'>""", base)
    assert config is not None
    assert '"allowEval":false' in config.group(1)
    assert '"allowScriptTags":false' in config.group(1)


# The error page's own 404, asked for on purpose.
@pytest.mark.parametrize("allowed_console_errors", [["status of 404"]])
def test_the_clone_pickers_arrow_key_and_the_error_pages_back_link_work_under_the_policy(
    page: Page, http: httpx.Client
) -> None:
    source = create_task(http, project_name("picker"), "picked", status="completed")
    page.goto(f"/projects/{source['project']['id']}")
    page.locator(f'tr.task-row[data-task-id="{source["id"]}"]').click(button="right")
    page.get_by_role("menuitem", name="Clone").click()
    field = page.locator("dialog#modal").get_by_label("Project")
    field.focus()
    field.press("ArrowDown")  # opens the list of projects, with no typing
    expect(page.locator("#clone-project-options .picker-option").first).to_be_visible()

    page.goto(f"/experiments/{source['id']}/info")
    page.goto("/no-such-page")
    expect(page.get_by_role("link", name="Go back")).to_be_visible()
    page.get_by_role("link", name="Go back").click()
    expect(page).to_have_url(re.compile(rf"/experiments/{source['id']}/info$"))


def test_the_model_search_stays_in_its_modal_on_enter(page: Page, http: httpx.Client) -> None:
    draft = create_task(http, project_name("models"), "needs a model")
    page.goto(f"/experiments/{draft['id']}/artifacts")
    page.get_by_role("button", name="Select model…").click()
    search = page.locator("dialog#modal").get_by_role("searchbox")
    search.fill("nothing-like-this")
    search.press("Enter")
    expect(page.locator("dialog#modal")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/experiments/{draft['id']}/artifacts$"))

"""The dashboard in a real browser: submit, follow, cancel, re-run, errors, tokens, layout."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Page, ViewportSize, expect

from pyjobs.config import Settings
from tests.support.live import server_thread, token_for

NUMPY_CODE = "import numpy; print(numpy.arange(10).sum())"
SLEEPER_CODE = "import time; print('started', flush=True); time.sleep(600)"
# A cold numpy install (download, bytecode compilation) on a busy 2-core machine.
INSTALL_TIMEOUT_MS = 180_000
NARROW = ViewportSize(width=390, height=844)  # a phone


def submit_form(page: Page, code: str, dependencies: str = "") -> None:
    page.fill("#f-code", code)
    page.fill("#f-deps", dependencies)
    page.get_by_role("button", name="Submit task").click()


def runs_row(page: Page, run: int) -> str:
    return f"#runs-table tr[data-run='{run}']"


def test_submit_numpy_follow_its_log_rerun_and_read_the_yaml(
    page: Page, server: str, screenshots: Path
) -> None:
    page.goto(f"{server}/#/new")
    expect(page.get_by_role("heading", name="New task")).to_be_visible()
    # The editor highlights as you type: the mirror holds Prism's tokens.
    page.fill("#f-code", NUMPY_CODE)
    expect(page.locator(".editor-mirror .token.keyword").first).to_have_text("import")
    page.fill("#f-deps", "numpy")
    page.screenshot(path=screenshots / "submit-form.png", full_page=True)
    page.get_by_role("button", name="Submit task").click()

    expect(page).to_have_url(re.compile(r"#/tasks/\w+$"))
    expect(page.locator("#log")).to_have_text(
        re.compile(r"(^|\n)45\n?$"), timeout=INSTALL_TIMEOUT_MS
    )
    expect(page.locator("#task-status")).to_have_text("succeeded")
    expect(page.locator("#log-state")).to_have_text("complete")
    first = page.locator(runs_row(page, 1))
    expect(first.locator("[data-label='Exit code']")).to_have_text("0")
    expect(first.locator("[data-label='Env cache']")).to_have_text(re.compile("hit|built"))
    expect(page.locator(".token.keyword").first).to_have_text("import")  # the request's code
    page.screenshot(path=screenshots / "task-logs.png", full_page=True)

    # Re-run: a second run, followed, from the cached environment.
    page.get_by_role("button", name="Re-run").click()
    second = page.locator(runs_row(page, 2))
    expect(second.locator("[data-label='Status']")).to_have_text("succeeded", timeout=60_000)
    expect(second.locator("[data-label='Env cache']")).to_have_text("hit")
    expect(page.locator("#log-title")).to_have_text("Output of run 2")
    expect(page.locator("#log")).to_have_text(re.compile(r"(^|\n)45\n?$"))

    # The Argo Workflow YAML of the shown run, highlighted.
    page.get_by_text("Argo Workflow YAML of run 2").click()
    manifest = page.locator("#manifest pre")
    expect(manifest).to_contain_text("generateName: python-job-")
    expect(manifest).to_contain_text("kind: Workflow")
    expect(manifest.locator(".token.key").first).to_be_visible()
    page.screenshot(path=screenshots / "task-yaml.png", full_page=True)

    # Back to run 1: its own output, not followed.
    first.get_by_role("button", name="Show run 1").click()
    expect(page.locator("#log-title")).to_have_text("Output of run 1")
    expect(page.locator("#log")).to_have_text(re.compile(r"(^|\n)45\n?$"))

    page.set_viewport_size(NARROW)
    page.screenshot(path=screenshots / "task-narrow.png", full_page=True)


def test_cancel_a_running_task_while_following_its_log(page: Page, server: str) -> None:
    page.goto(f"{server}/#/new")
    submit_form(page, SLEEPER_CODE)
    expect(page.locator("#log")).to_contain_text("started", timeout=60_000)
    expect(page.locator("#log-state")).to_have_text("following live…")
    expect(page.locator("#task-status")).to_have_text("running")
    expect(page.get_by_role("button", name="Re-run")).to_be_disabled()

    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#task-status")).to_have_text("cancelled", timeout=30_000)
    expect(page.locator(runs_row(page, 1)).locator("[data-label='Reason']")).to_have_text(
        "cancelled"
    )
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()
    expect(page.get_by_role("button", name="Re-run")).to_be_enabled()
    expect(page.locator("#log-state")).to_have_text("complete")

    # "Edit as new" starts the form from this task's request.
    page.get_by_role("link", name="Edit as new").click()
    expect(page.locator("#f-code")).to_have_value(SLEEPER_CODE)
    expect(page.locator("#f-timeout")).to_have_value("3600")


def test_the_editor_keyboard_and_the_yaml_preview(page: Page, server: str) -> None:
    page.goto(f"{server}/#/new")
    editor = page.locator("#f-code")
    editor.fill("if True:")
    editor.press("End")
    editor.press("Enter")  # keeps the indentation, one level more after a colon
    editor.press_sequentially("pass")
    editor.press("Tab")  # Tab indents inside the editor …
    expect(editor).to_have_value("if True:\n    pass    ")
    editor.press("Escape")
    editor.press("Tab")  # … and Esc, Tab leaves it: the keyboard is never trapped
    expect(page.locator("#f-deps")).to_be_focused()

    page.fill("#f-code", "print('preview')")
    page.fill("#f-deps", "numpy>=1.24")
    page.get_by_role("button", name="Preview workflow YAML").click()
    preview = page.locator(".preview pre")
    expect(preview).to_contain_text("generateName: python-job-")
    expect(preview).to_contain_text("numpy>=1.24")
    assert httpx.get(f"{server}/api/v1/tasks").json()["data"] == []  # nothing stored


def test_a_bad_dependency_is_shown_next_to_its_field(
    page: Page, server: str, screenshots: Path
) -> None:
    page.goto(f"{server}/#/new")
    submit_form(page, "print(1)", "numpy; rm -rf /")
    error = page.locator("#f-deps-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("PEP 508")
    expect(page.locator("#f-deps")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-deps")).to_be_focused()
    page.screenshot(path=screenshots / "submit-error.png")
    expect(page).to_have_url(re.compile(r"#/new$"))  # nothing was created
    assert httpx.get(f"{server}/api/v1/tasks").json()["data"] == []

    # Fixing the field clears the message; the server's other refusals land on their fields.
    page.fill("#f-deps", "")
    page.fill("#f-timeout", "0")
    page.get_by_role("button", name="Submit task").click()
    expect(page.locator("#f-timeout-error")).to_be_visible()
    expect(error).to_be_hidden()
    page.fill("#f-timeout", "60")
    page.fill("#f-code", "")
    page.get_by_role("button", name="Submit task").click()
    expect(page.locator("#f-code-error")).to_contain_text("empty")


def test_unknown_tasks_and_pages_say_so(page: Page, server: str) -> None:
    page.goto(f"{server}/#/tasks/01nosuchtask")
    expect(page.locator(".problem .notice.error")).to_contain_text("not found")
    page.goto(f"{server}/#/elsewhere")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.get_by_role("link", name="Back to the tasks.").click()
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible()


def test_list_filters_pages_and_narrow_layout(page: Page, server: str, screenshots: Path) -> None:
    with httpx.Client(base_url=f"{server}/api/v1", timeout=30) as api:
        ids = [
            api.post("/tasks/submit", json={"python_code": code}).json()["id"]
            for code in ("print('one')", "raise SystemExit(3)", "print('three')")
        ]
    page.goto(f"{server}/#/?limit=2")
    rows = page.locator("#tasks-table tbody tr")
    expect(rows).to_have_count(2)
    # Newest first; the rows follow their runs to the end by polling.
    expect(rows.first).to_have_attribute("data-task", ids[2])
    expect(rows.first.locator(".badge")).to_have_text("succeeded", timeout=60_000)
    expect(page.get_by_role("button", name="Newer")).to_be_disabled()
    page.get_by_role("button", name="Older").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-task", ids[0])
    expect(page.get_by_role("button", name="Older")).to_be_disabled()
    page.get_by_role("button", name="Newer").click()
    expect(rows.first).to_have_attribute("data-task", ids[2])

    page.get_by_label("Status").select_option("failed")
    expect(rows).to_have_count(1, timeout=60_000)
    expect(rows.first).to_have_attribute("data-task", ids[1])
    expect(page).to_have_url(re.compile(r"status=failed"))
    page.goto(f"{server}/#/")
    expect(rows).to_have_count(3)
    expect(page.locator("#tasks-table .badge", has_text="succeeded")).to_have_count(
        2, timeout=60_000
    )
    page.screenshot(path=screenshots / "list.png", full_page=True)

    rows.first.get_by_role("link").click()
    expect(page.locator("#task-title")).to_contain_text(ids[2])
    page.go_back()
    page.set_viewport_size(NARROW)
    expect(rows).to_have_count(3)
    page.screenshot(path=screenshots / "list-narrow.png", full_page=True)


def test_a_server_with_tokens_asks_for_one(
    page: Page, settings: Settings, screenshots: Path
) -> None:
    secret = token_for(settings, "browser")
    with server_thread(settings) as url:
        page.goto(f"{url}/")
        message = page.locator("#token-message")
        expect(message).to_contain_text("needs an access token")
        expect(page.locator("#token-input")).to_be_focused()
        expect(page.locator(".problem .notice.error")).to_contain_text("401")

        page.fill("#token-input", "pjt_wrong")
        page.get_by_role("button", name="Use token").click()
        expect(message).to_contain_text("refused this token")
        page.screenshot(path=screenshots / "token.png")

        page.fill("#token-input", secret)
        page.get_by_role("button", name="Use token").click()
        expect(page.locator("#token-panel")).to_be_hidden()
        expect(page.locator(".empty")).to_contain_text("No tasks yet")
        expect(page.get_by_role("button", name="Access token (set)")).to_be_visible()
        # The token is this tab's: a submit through the form carries it.
        page.goto(f"{url}/#/new")
        page.fill("#f-code", "print('with a token')")
        page.get_by_role("button", name="Submit task").click()
        expect(page.locator("#log")).to_contain_text("with a token", timeout=60_000)
        assert page.evaluate("sessionStorage.getItem('pyjobs.token')") == secret

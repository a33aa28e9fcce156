"""The workbench in real headless Chromium (Debian's /usr/bin/chromium through Playwright)
against a real server on 127.0.0.1: what a lead does in a first session, end to end.

Screenshots of each page go to ``$KEYFOLIO_SCREENSHOTS`` (default: the test's temporary
folder); the README's come from ``KEYFOLIO_SCREENSHOTS=docs pytest tests/test_browser.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyfolio import runs
from keyfolio.db import close_db
from keyfolio.db.engine import ENV_VAR
from keyfolio.web import Settings
from keyfolio.workspace import Workspace
from liveserver import live_server
from webclient import PASSWORD, web_workspace

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="needs Debian's chromium at /usr/bin/chromium"
)
playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    mp = pytest.MonkeyPatch()
    mp.delenv(ENV_VAR, raising=False)
    ws = web_workspace(
        tmp_path_factory.mktemp("browser") / "ws", accounts=300, lines=12000, evil=False
    )
    yield ws
    close_db(ws)
    mp.undo()


@pytest.fixture(scope="module")
def base_url(workspace: Workspace) -> Iterator[str]:
    with live_server(Settings(workspace=workspace.root)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("KEYFOLIO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _page(browser, base_url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base_url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return page, errors


def _sign_in(page, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def _click_first_bubble(page, chart: str) -> None:
    """A real mouse click on a plotted point (Plotly finds the point under the cursor)."""
    page.wait_for_selector(f"{chart} .scatterlayer .point")
    box = page.locator(f"{chart} .scatterlayer .point").first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_sign_in_dashboard_matrix_to_account(browser, base_url: str, shots: Path) -> None:
    page, errors = _page(browser, base_url)
    page.goto("/")
    assert "/login" in page.url  # signed out: the sign-in page
    page.screenshot(path=str(shots / "web-login.png"))
    _sign_in(page, "lead@example.com")
    page.wait_for_selector("#chart-matrix .scatterlayer .point")
    page.wait_for_selector("#chart-whale .scatterlayer")
    assert page.locator("#cards").is_visible()
    page.screenshot(path=str(shots / "web-dashboard.png"), full_page=True)
    _click_first_bubble(page, "#chart-matrix")
    page.wait_for_url(re.compile(r".*/accounts/[^/]+$"))
    assert page.locator("h1").first.inner_text().strip()
    page.wait_for_selector("#assessments:not([data-load])")  # the fragments are in
    page.wait_for_selector("#overrides:not([data-load])")
    assert "loading" not in page.locator("#assessments").inner_text()
    page.screenshot(path=str(shots / "web-account.png"), full_page=True)
    assert not errors, errors


def test_enter_an_assessment(browser, base_url: str, workspace: Workspace, shots: Path) -> None:
    account = str(runs.get(workspace).portfolio(["account_id"])["account_id"].iloc[0])
    page, errors = _page(browser, base_url)
    _sign_in(page, "lead@example.com")
    page.goto(f"/accounts/{account}/assess")
    form = page.locator("form[action$='/assessments']").first
    low = float(form.locator("input[name=score]").get_attribute("min") or 0)
    form.locator("input[name=score]").fill(str(low + 1))
    form.locator("textarea[name=comment]").fill("<b>not bold</b> seen at the visit")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[role=status]:has-text('Saved.')")
    page.screenshot(path=str(shots / "web-assess.png"), full_page=True)
    page.goto(f"/accounts/{account}")
    section = page.locator("#assessments")
    section.locator("text=<b>not bold</b> seen at the visit").wait_for()  # text, not markup
    assert section.locator("b").count() == 0
    assert not errors, errors


def test_what_if_then_save_and_run(
    browser, base_url: str, workspace: Workspace, shots: Path
) -> None:
    before = runs.run_ids(workspace)
    page, errors = _page(browser, base_url)
    _sign_in(page, "lead@example.com")
    page.goto("/definition")
    whatif = page.locator("#whatif")
    assert "Would enter" not in whatif.inner_text()  # nothing asked yet
    weights = page.locator("#definition-form input[name^='weight:']")
    assert weights.count() >= 2
    weights.nth(0).fill("0.1")  # the first criterion hardly counts any more
    weights.nth(1).fill("40")
    whatif.locator("text=Would enter the key list").wait_for(timeout=90_000)
    moved = re.findall(r"Would (?:enter|leave) the key list \((\d+)\)", whatif.inner_text())
    assert moved and sum(int(n) for n in moved) > 0, whatif.inner_text()
    page.screenshot(path=str(shots / "web-definition.png"), full_page=True)
    assert runs.run_ids(workspace) == before  # a what-if is never a run
    page.fill("#definition-form input[name=note]", "strength over size")
    page.click("#definition-form button[type=submit]")
    start = page.locator("#save-result button:has-text('Start a run with version')")
    start.wait_for()
    start.click()
    page.wait_for_url(re.compile(r".*/runs/jobs/.+"))
    page.screenshot(path=str(shots / "web-run-progress.png"), full_page=True)
    page.wait_for_selector("#job a[href^='/runs/']", timeout=180_000)
    after = runs.run_ids(workspace)
    assert len(after) == len(before) + 1
    new = sorted(set(after) - set(before))[0]
    page.goto("/runs")
    assert page.locator(f"text={new}").count() >= 1
    assert not errors, errors


def test_pages_in_the_browser(browser, base_url: str, shots: Path) -> None:
    """Every other page opens without a script error or a failed request."""
    page, errors = _page(browser, base_url)
    _sign_in(page, "lead@example.com")
    for path, name in [
        ("/accounts", "web-accounts"),
        ("/assessments", "web-assessments"),
        ("/overrides", "web-overrides"),
        ("/reconciliation", "web-reconciliation"),
        ("/audit", "web-audit"),
        ("/definition/versions", "web-versions"),
    ]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert not errors, errors


def test_start_a_run_and_see_it(browser, base_url: str, workspace: Workspace, shots: Path) -> None:
    before = runs.run_ids(workspace)
    page, errors = _page(browser, base_url)
    _sign_in(page, "lead@example.com")
    page.goto("/runs")
    page.click("form.start-run button[type=submit]")
    page.wait_for_url(re.compile(r".*/runs/jobs/.+"))
    page.wait_for_selector("#job a[href^='/runs/']", timeout=120_000)
    page.goto("/runs")
    after = runs.run_ids(workspace)
    assert len(after) == len(before) + 1
    new = sorted(set(after) - set(before))[0]
    assert page.locator(f"text={new}").count() >= 1
    page.screenshot(path=str(shots / "web-runs.png"), full_page=True)
    assert not errors, errors

"""The PDF: the report's HTML printed by headless Chromium (driven by Playwright).

The same HTML as the HTML report, laid out with its print CSS (A4, a page per section, no
split charts or table rows), after every chart has been drawn (the page sets
``window.__keyfolioChartsReady``). Plotly draws SVG, so the charts stay vector in the PDF.
No network: every request other than ``file:`` and ``data:`` is aborted, and Chromium runs
with background networking, component updates and sync disabled.

Chromium is the system's (Debian's ``chromium`` package, ``/usr/bin/chromium``) or the one
named by ``KEYFOLIO_CHROMIUM``; Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import html as html_lib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from keyfolio.errors import KeyfolioError
from keyfolio.workspace import atomic_file

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
# A4 (210 mm) minus 12 mm margins on each side, in CSS pixels (96 per inch): the charts are
# drawn at the width they are printed at.
PRINT_WIDTH_PX = round((210 - 24) / 25.4 * 96)
MARGIN = {"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"}
TIMEOUT_MS = 180_000

_FOOTER = (
    '<div style="font-size:7pt;color:#666;width:100%;padding:0 12mm;'
    'font-family:sans-serif;display:flex;justify-content:space-between">'
    "<span>Keyfolio report, run {run}</span>"
    '<span>page <span class="pageNumber"></span> of <span class="totalPages"></span></span>'
    "</div>"
)


def chromium_path() -> str:
    """The Chromium executable to use; a clear error when there is none."""
    path = os.environ.get("KEYFOLIO_CHROMIUM") or DEFAULT_CHROMIUM
    if not Path(path).is_file():
        found = shutil.which("chromium")
        if found is None:
            raise KeyfolioError(
                f"PDF export needs Chromium: {path} not found (install Debian's `chromium` "
                "package, or set KEYFOLIO_CHROMIUM to a Chromium executable)"
            )
        path = found
    return path


@contextmanager
def browser_page(
    width: int = PRINT_WIDTH_PX, height: int = 1000
) -> Iterator[tuple[Any, list[str]]]:
    """A Playwright page in the system Chromium that refuses every non-local request.

    Yields ``(page, blocked)``: ``blocked`` lists the URLs of the requests refused."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a declared dependency
        raise KeyfolioError("PDF export needs the `playwright` Python package") from None
    exe = chromium_path()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            blocked: list[str] = []

            def route(r: Any) -> None:
                url = r.request.url
                if url.startswith(("file:", "data:", "about:", "blob:")):
                    r.continue_()
                else:
                    blocked.append(url)
                    r.abort()

            page.route("**/*", route)
            yield page, blocked
        finally:
            browser.close()


def wait_for_charts(page: Any, timeout_ms: int = TIMEOUT_MS) -> None:
    """Draw every chart (also the lazily drawn small ones) and wait until all are drawn."""
    page.wait_for_function("typeof window.keyfolioDrawAll === 'function'", timeout=timeout_ms)
    page.evaluate("window.keyfolioDrawAll()")
    page.wait_for_function("window.__keyfolioChartsReady === true", timeout=timeout_ms)


def html_to_pdf(html: str, out: Path, *, run_id: str = "") -> Path:
    """Print report HTML to ``out`` (A4, page numbers in the footer); returns ``out``."""
    out = Path(out)
    with (
        tempfile.TemporaryDirectory(prefix="keyfolio-report-") as tmp,
        atomic_file(out) as pdf_tmp,
    ):
        src = Path(tmp) / "report.html"
        src.write_text(html, encoding="utf-8")
        with browser_page() as (page, _blocked):
            page.emulate_media(media="print")
            page.add_init_script("window.__keyfolioPrint = true;")
            page.goto(src.as_uri(), wait_until="load", timeout=TIMEOUT_MS)
            wait_for_charts(page)
            page.pdf(
                path=str(pdf_tmp), format="A4", print_background=True, margin=MARGIN,
                display_header_footer=True, header_template="<span></span>",
                footer_template=_FOOTER.format(run=_esc(run_id)), prefer_css_page_size=False,
            )  # fmt: skip
    return out


def _esc(text: str) -> str:
    return html_lib.escape(text)

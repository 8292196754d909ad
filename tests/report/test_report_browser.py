"""Open a generated report in headless Chromium: it renders, offline, with no errors.

Driven with Python Playwright (the ``browser`` extra) against the system's
Chromium (Debian's ``chromium`` package), never a downloaded browser. Skipped
where either is missing; ``.ci/install-browser`` installs both.
Set ``SCRATCHNET_CHROMIUM`` to use another Chromium/Chrome binary.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from matplotlib.image import imread

from scratchnet.report import RunFolder

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = [
    "--no-sandbox",  # root in a container: the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _find_chromium() -> str | None:
    explicit = os.environ.get("SCRATCHNET_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = _find_chromium()
    if path is None:
        pytest.skip("no Chromium binary found (install Debian's chromium: .ci/install-browser)")
    return path


@pytest.fixture(scope="module")
def sync_playwright():
    module = pytest.importorskip(
        "playwright.sync_api",
        reason="Python Playwright is not installed (pip install 'scratchnet[browser]')",
    )
    return module.sync_playwright


def test_report_renders_in_headless_chromium(
    sample_run: RunFolder, tmp_path: Path, chromium_path: str, sync_playwright
) -> None:
    report = sample_run.finish()
    console: list[str] = []
    page_errors: list[str] = []
    network: list[str] = []

    with sync_playwright() as pw:
        # A persistent context is how Playwright takes an explicit, fresh profile
        # folder (it refuses --user-data-dir in args).
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1200, "height": 900},
            offline=True,
        )
        try:
            page = context.new_page()
            page.on(
                "console",
                lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.on(
                "request",
                lambda r: network.append(r.url)
                if not r.url.startswith(("file:", "data:"))
                else None,
            )
            page.goto(report.as_uri(), wait_until="load")

            assert page.title().startswith("XOR <b>demo</b>")
            # The title is shown as text, not parsed as markup.
            assert page.locator("h1").inner_text() == 'XOR <b>demo</b> & "friends"'
            images = page.evaluate(
                "Array.from(document.images).map(i => "
                "({complete: i.complete, w: i.naturalWidth, h: i.naturalHeight, "
                "shown: i.getBoundingClientRect().width}))"
            )
            assert len(images) == 2
            for image in images:
                assert image["complete"] and image["w"] > 0 and image["h"] > 0
                assert 0 < image["shown"] <= image["w"] + 0.5  # never upscaled
            assert page.locator("table tbody tr").count() >= 4
            overflow = "document.documentElement.scrollWidth - window.innerWidth"
            assert page.evaluate(overflow) <= 0

            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)

            # Responsive: on a phone-sized viewport nothing sticks out sideways
            # and the figures shrink to fit.
            page.set_viewport_size({"width": 390, "height": 800})
            assert page.evaluate(overflow) <= 0
            widths = page.evaluate(
                "Array.from(document.images).map(i => i.getBoundingClientRect().width)"
            )
            assert all(0 < w <= 390 for w in widths)

            # Printable: the print stylesheet produces a PDF.
            page.emulate_media(media="print")
            pdf = page.pdf(format="A4")
        finally:
            context.close()

    assert console == []
    assert page_errors == []
    assert network == []

    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 50_000
    pixels = imread(io.BytesIO(data), format="png")
    assert pixels.shape[1] == 1200 and pixels.shape[0] > 1500  # the whole page, not a viewport
    assert pixels.std() > 0.05  # text and figures, not a blank page
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000

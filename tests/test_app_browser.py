"""The Gradio app in a real browser: Debian's chromium, headless, driven by Playwright.

Starts `app.py` on a free localhost port with a folder of examples this test makes
(a portrait that ships with matplotlib, speech from espeak-ng or a synthetic voice). At a
1366x768 laptop screen and a 390x844 phone screen: within 2 s of pressing Generate a progress
indication (stage and percent) is inside the viewport; the finished video is scrolled into view;
the panels render, the trajectory plot's text is at least 11 px on the laptop screen; a
no-face upload afterwards leaves no old result on the page; a bad setting is named on its
field. Screenshots go to test-artifacts/. Skips when /usr/bin/chromium or playwright is absent.

    .venv/bin/python -m pytest tests/test_app_browser.py -q

Run as a script it takes the README screenshots (one per screen size) from the project's own examples:

    .venv/bin/python tests/test_app_browser.py docs "astronaut + speech_1"
"""
from __future__ import annotations

import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
GENERATE_TIMEOUT_MS = int(float(os.environ.get("FROND_TEST_GENERATE_TIMEOUT", 300)) * 1000)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")
sync_api = pytest.importorskip("playwright.sync_api")


# --------------------------------------------------------------------------- inputs the test makes


def _portrait(folder: Path) -> Path:
    """Grace Hopper's portrait, shipped with matplotlib."""
    import matplotlib

    src = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    dst = folder / "hopper.jpg"
    shutil.copyfile(src, dst)
    return dst


def _speech(folder: Path, text: str = "Hello, this is a short test.") -> Path:
    """About two seconds of speech: espeak-ng when installed, else a synthetic vowel train."""
    dst = folder / "hello.wav"
    if shutil.which("espeak-ng"):
        subprocess.run(["espeak-ng", "-s", "170", "-w", str(dst), text], check=True, capture_output=True)
        return dst
    rate, seconds = 16000, 2.0
    t = np.arange(int(rate * seconds)) / rate
    f0 = 120 + 15 * np.sin(2 * np.pi * 0.7 * t)
    voice = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / rate) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 0.6
    x = (0.3 * voice * syllables / np.abs(voice).max() * 32767).astype(np.int16)
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x.tobytes())
    return dst


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    from frond.bench_app import AppServer

    examples = tmp_path_factory.mktemp("examples")
    _portrait(examples)
    _speech(examples)
    env = {
        "GRADIO_TEMP_DIR": str(tmp_path_factory.mktemp("gradio")),
        "HF_HUB_OFFLINE": "1",
        "FROND_WEIGHTS": "",
    }
    with AppServer(args=["--examples-dir", str(examples)], env=env) as app:
        app.wait_ready(timeout=180)
        yield app.url
        print(app.log()[-3000:])


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def open_page(browser, url: str, width: int = 1500, height: int = 1000):
    """A fresh browser context at a screen size, with the app loaded (its default example preloaded)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    pg.goto(url)
    pg.wait_for_selector("#generate-btn", timeout=60_000)
    pg.wait_for_selector("#portrait img", timeout=30_000)
    return pg


@pytest.fixture
def page(browser, app_url):
    pg = open_page(browser, app_url)
    yield pg
    pg.context.close()


# --------------------------------------------------------------------------- helpers (also used for the docs/ screenshots)

SCREENS = {"1366x768": (1366, 768), "390x844": (390, 844)}  # a laptop, a phone
PROGRESS_IN_VIEW_MS = 2_000
MIN_PLOT_TEXT_PX = 11  # on the laptop screen

PROGRESS_VISIBLE = """() => [...document.querySelectorAll('.progress-level-inner, .progress-text, [role=progressbar]')]
  .some(e => { const r = e.getBoundingClientRect(); const text = e.textContent.trim();
               return r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight && (text || e.role); })"""
IN_VIEW = """(selector) => { const r = document.querySelector(selector).getBoundingClientRect();
  return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; }"""
PLOT_TEXT_PX = """([textPx, plotWidth]) => { const i = document.querySelector('#trajectories-out img');
  const shown = Math.min(i.clientWidth, i.clientHeight * i.naturalWidth / i.naturalHeight);
  return textPx * shown / plotWidth; }"""


def generate_from_example(page, label: str | None = None, timeout_ms: int = GENERATE_TIMEOUT_MS) -> None:
    """Click an example (the first, or the one named `label`), press Generate, wait for the output video."""
    examples = page.locator(".gallery-item, [data-testid='dataset'] button, .dataset button")
    target = page.get_by_text(label, exact=True) if label else examples.first
    target.click()
    page.wait_for_selector("#portrait img", timeout=30_000)  # the example's portrait is loaded
    page.click("#generate-btn")
    page.wait_for_selector("#output-video video[src]", timeout=timeout_ms)


def generate_and_watch(page, timeout_ms: int = GENERATE_TIMEOUT_MS) -> None:
    """Press Generate: a progress indication is in the viewport within 2 s, and the finished video is
    scrolled into view."""
    page.click("#generate-btn")
    page.wait_for_function(PROGRESS_VISIBLE, timeout=PROGRESS_IN_VIEW_MS)
    page.wait_for_selector("#output-video video[src]", timeout=timeout_ms)
    page.wait_for_function(IN_VIEW, arg="#output-video", timeout=5_000)  # the scroll is smooth: a moment


def assert_panels(page) -> None:
    for selector in ("#aligned-out img[src]", "#trajectories-out img[src]", "#field-out video[src]",
                     "#output-video video[src]", "#combined-out video[src]"):
        element = page.locator(selector).first
        assert element.count() == 1, f"{selector} did not render"
        assert element.get_attribute("src"), f"{selector} has no source"
    page.wait_for_function(  # the images really decoded (not a broken link)
        "() => ['#aligned-out img', '#trajectories-out img'].every(s => {"
        " const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0; })",
        timeout=30_000,
    )
    info = page.locator("#run-info").inner_text()
    assert "Lip motion:" in info and "face rendering:" in info, info


def plot_text_px(page) -> float:
    """The trajectory plot's smallest text as shown, in CSS px."""
    from frond import viz

    return float(page.evaluate(PLOT_TEXT_PX, [viz.PLOT_TEXT_PX, viz.PLOT_SIZE_PX[0]]))


def clear_and_upload(page, component: str, path: Path) -> None:
    clear = page.locator(f"{component} button[aria-label='Clear'], {component} button[title='Clear']")
    if clear.count():
        clear.first.click()
    page.locator(f"{component} input[type=file]").set_input_files(str(path))


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("screen", SCREENS)
def test_generate_shows_progress_then_the_video_in_view_and_no_stale_results(browser, app_url, screen, tmp_path):
    """The page opens ready (an example loaded): press Generate. Then a portrait with no face: the old
    results go and stay gone."""
    pg = open_page(browser, app_url, *SCREENS[screen])
    try:
        generate_and_watch(pg)
        assert_panels(pg)
        if screen == "1366x768":
            assert plot_text_px(pg) >= MIN_PLOT_TEXT_PX, f"plot text {plot_text_px(pg):.1f} px"
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"app_{screen}.png"))

        blank = tmp_path / "blank.png"
        from PIL import Image

        Image.new("RGB", (400, 300), (120, 160, 200)).save(blank)
        clear_and_upload(pg, "#portrait", blank)
        pg.wait_for_selector("#portrait img", timeout=30_000)
        pg.click("#generate-btn")
        pg.locator("#portrait").get_by_text("No face found", exact=False).first.wait_for(timeout=30_000)  # the validator's message
        pg.wait_for_timeout(500)
        for selector in ("#output-video video[src]", "#field-out video[src]", "#combined-out video[src]",
                         "#aligned-out img[src]", "#trajectories-out img[src]"):
            assert pg.locator(selector).count() == 0, f"{selector}: the last run's result is still shown"
        assert "made in" not in pg.locator("#run-info").inner_text()
    finally:
        pg.context.close()


def test_a_bad_setting_is_named_on_its_field(page):
    seed = page.locator("#seed input")
    seed.fill("-3")
    seed.press("Tab")
    page.click("#generate-btn")
    page.locator("#seed").get_by_text("seed must be a whole number >= 0, got -3", exact=False).wait_for(timeout=30_000)
    assert page.locator("#output-video video[src]").count() == 0


def test_example_click_then_generate(page):
    generate_from_example(page)
    assert_panels(page)
    details = page.locator("#run-info details")
    assert not details.get_attribute("open"), "the stage details are one click away, not open"
    details.locator("summary").click()
    assert "training-free prior" in details.inner_text() and "frond-motion (bundled)" in details.inner_text()


def test_reset_to_defaults(page):
    seed = page.locator("#seed input")
    seed.fill("7")
    seed.press("Tab")
    page.get_by_label("Face crop").check()
    page.click("#reset-btn")
    page.wait_for_function("() => document.querySelector('#seed input').value === '0'", timeout=10_000)
    assert page.get_by_label("Whole picture").is_checked()  # the default framing: the picture as uploaded


def test_non_image_upload_shows_message_and_app_keeps_serving(page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    clear_and_upload(page, "#portrait", bad)
    clear_and_upload(page, "#speech", _speech(tmp_path))
    page.wait_for_selector("#speech audio, #speech [data-testid='waveform-Speech']", state="attached", timeout=30_000)
    page.click("#generate-btn")
    toast = page.get_by_text("as an image", exact=False).first
    toast.wait_for(timeout=60_000)
    assert "Traceback" not in page.content()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_browser_error.png"), full_page=True)
    # the app still serves: a fresh page loads and the queue answers
    page.reload()
    page.wait_for_selector("#generate-btn", timeout=60_000)


def screenshots(folder: str, example: str | None = None, at_seconds: float = 2.0) -> None:
    """Start the app with ./examples and, at each screen size, generate from `example` and save
    `folder`/app_<width>.png: the laptop's whole page, the phone's screen as the run ends."""
    from frond.bench_app import AppServer

    with AppServer(env={"HF_HUB_OFFLINE": "1", "FROND_WEIGHTS": ""}) as app:
        app.wait_ready(timeout=180)
        with sync_api.sync_playwright() as p:
            b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            for width, height in SCREENS.values():
                pg = open_page(b, app.url, width, height)
                if example:
                    pg.get_by_text(example, exact=True).click()
                    pg.wait_for_timeout(1000)
                generate_and_watch(pg)
                assert_panels(pg)
                pg.evaluate(f"() => document.querySelectorAll('video').forEach(v => {{ v.pause(); v.currentTime = {at_seconds}; }})")
                pg.wait_for_timeout(1000)
                pg.screenshot(path=str(Path(folder) / f"app_{width}.png"), full_page=width > 1000)
                pg.context.close()
            b.close()


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    screenshots(sys.argv[1] if len(sys.argv) > 1 else str(ARTIFACTS), sys.argv[2] if len(sys.argv) > 2 else None)

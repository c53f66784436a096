"""The Gradio app in a real browser: Debian's chromium, headless, driven by Playwright.

Starts `app.py` on a free localhost port with a folder of examples this test makes
(a portrait that ships with matplotlib, speech from espeak-ng or a synthetic voice),
clicks the example, presses Generate and checks that all four panels render. A
screenshot goes to test-artifacts/. Skips when /usr/bin/chromium or playwright is absent.

    .venv/bin/python -m pytest tests/test_app_browser.py -q

Run as a script it takes the README screenshot from the project's own examples:

    .venv/bin/python tests/test_app_browser.py docs/app.png "astronaut + speech_1"
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


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    pg = context.new_page()
    pg.goto(app_url)
    pg.wait_for_selector("#generate-btn", timeout=60_000)
    yield pg
    context.close()


# --------------------------------------------------------------------------- helpers (also used for docs/app.png)


def generate_from_example(page, label: str | None = None, timeout_ms: int = GENERATE_TIMEOUT_MS) -> None:
    """Click an example (the first, or the one named `label`), press Generate, wait for the output video."""
    examples = page.locator(".gallery-item, [data-testid='dataset'] button, .dataset button")
    target = page.get_by_text(label, exact=True) if label else examples.first
    target.click()
    page.wait_for_selector("#portrait img", timeout=30_000)  # the example's portrait is loaded
    page.click("#generate-btn")
    page.wait_for_selector("#output-video video[src]", timeout=timeout_ms)


def assert_four_panels(page) -> None:
    for selector in ("#aligned-out img[src]", "#trajectories-out img[src]", "#field-out video[src]", "#output-video video[src]"):
        element = page.locator(selector).first
        assert element.count() == 1, f"{selector} did not render"
        assert element.get_attribute("src"), f"{selector} has no source"
    page.wait_for_function(  # the images really decoded (not a broken link)
        "() => ['#aligned-out img', '#trajectories-out img'].every(s => {"
        " const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0; })",
        timeout=30_000,
    )
    assert page.locator("#combined-out a[href]").count() >= 1, "no download link for the side-by-side video"
    assert "Path:" in page.locator("#run-info").inner_text()


# --------------------------------------------------------------------------- tests


def test_example_generate_shows_four_panels(page):
    generate_from_example(page)
    assert_four_panels(page)
    info = page.locator("#run-info").inner_text()
    assert "training-free prior" in info or "learned weights" in info
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_browser.png"), full_page=True)


def test_page_opens_ready_with_an_example(page):
    """The embedded default: a portrait and a speech clip are loaded, Generate works at once."""
    page.wait_for_selector("#portrait img", timeout=30_000)
    page.wait_for_selector("#speech audio, #speech [data-testid='waveform-Speech']", state="attached", timeout=30_000)
    page.click("#generate-btn")
    page.wait_for_selector("#output-video video[src]", timeout=GENERATE_TIMEOUT_MS)


def test_reset_to_defaults(page):
    seed = page.locator("#seed input")
    seed.fill("7")
    seed.press("Tab")
    page.get_by_label("Full frame").check()
    page.click("#reset-btn")
    page.wait_for_function("() => document.querySelector('#seed input').value === '0'", timeout=10_000)
    assert page.get_by_label("Face crop").is_checked()


def test_non_image_upload_shows_message_and_app_keeps_serving(page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    for component in ("#portrait", "#speech"):  # the page opens with an example loaded: clear it first
        clear = page.locator(f"{component} button[aria-label='Clear'], {component} button[title='Clear']")
        if clear.count():
            clear.first.click()
    page.locator("#portrait input[type=file]").set_input_files(str(bad))
    page.locator("#speech input[type=file]").set_input_files(str(_speech(tmp_path)))
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


def screenshot(out: str, example: str | None = None, at_seconds: float = 2.0) -> None:
    """Start the app with ./examples, generate from `example`, save a full-page screenshot."""
    from frond.bench_app import AppServer

    with AppServer(env={"HF_HUB_OFFLINE": "1", "FROND_WEIGHTS": ""}) as app:
        app.wait_ready(timeout=180)
        with sync_api.sync_playwright() as p:
            b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            pg = b.new_page(viewport={"width": 1440, "height": 900})
            pg.goto(app.url)
            pg.wait_for_selector("#generate-btn", timeout=60_000)
            generate_from_example(pg, example)
            assert_four_panels(pg)
            pg.evaluate(f"() => document.querySelectorAll('video').forEach(v => {{ v.pause(); v.currentTime = {at_seconds}; }})")
            pg.wait_for_timeout(1000)
            pg.screenshot(path=out, full_page=True)
            b.close()


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    screenshot(sys.argv[1] if len(sys.argv) > 1 else str(ARTIFACTS / "app.png"), sys.argv[2] if len(sys.argv) > 2 else None)

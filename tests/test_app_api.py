"""The Gradio app through its API: `app.py` in a subprocess, called with gradio_client.

Checks the named endpoint "/generate" returns the four panels (aligned input, trajectory
plot, motion field video, output video) plus the side-by-side video, that the videos
last as long as the speech and carry sound (probed with PyAV), that the API page's own example
runs as printed, that bad input (a setting out of range included) raises ValidationError with
a readable message naming its field, and that the app keeps serving afterwards without reloading.

    .venv/bin/python -m pytest tests/test_app_api.py -q
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError, ValidationError  # noqa: E402

from frond.bench_app import APP, AppServer  # noqa: E402

from .conftest import write_png_bomb  # noqa: E402

MAX_AUDIO_SECONDS = 6.0  # the app runs with this limit, so "too long" is cheap to test


# --------------------------------------------------------------------------- inputs the test makes


def _portrait(folder: Path) -> Path:
    import matplotlib

    dst = folder / "hopper.jpg"
    shutil.copyfile(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg", dst)
    return dst


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return path


def _synthetic_voice(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    f0 = 120 + 15 * np.sin(2 * np.pi * 0.7 * t)
    voice = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / rate) / k for k in range(1, 12))
    return 0.3 * voice / np.abs(voice).max() * np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 0.6


def _speech(folder: Path, text: str = "Hello, this is a short test.") -> Path:
    """About two seconds of speech: espeak-ng when installed, else a synthetic vowel train."""
    dst = folder / "hello.wav"
    if shutil.which("espeak-ng"):
        subprocess.run(["espeak-ng", "-s", "170", "-w", str(dst), text], check=True, capture_output=True)
        return dst
    return _write_wav(dst, _synthetic_voice(2.0))


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def _probe(path: str | Path) -> dict:
    """Duration (s), fps, and whether there is an audio stream, read with PyAV."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        fps = float(video.average_rate or video.guessed_rate)
        frames = video.frames or sum(1 for _ in container.decode(video=0))
        return {"seconds": frames / fps, "fps": fps, "frames": frames, "audio": len(container.streams.audio) > 0,
                "size": (video.codec_context.width, video.codec_context.height)}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    not_image = folder / "portrait.png"
    not_image.write_text("this text file only pretends to be a PNG")
    not_audio = folder / "speech.wav"
    not_audio.write_bytes(b"RIFF....WAVE but nothing else" * 10)
    return {
        "portrait": _portrait(folder),
        "speech": _speech(folder),
        "not_image": not_image,
        "not_audio": not_audio,
        "too_long": _write_wav(folder / "long.wav", _synthetic_voice(MAX_AUDIO_SECONDS + 2.0)),
    }


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    env = {"GRADIO_TEMP_DIR": str(tmp_path_factory.mktemp("gradio")), "HF_HUB_OFFLINE": "1", "FROND_WEIGHTS": ""}
    args = ["--examples-dir", str(tmp_path_factory.mktemp("no_examples")), "--max-audio-seconds", str(MAX_AUDIO_SECONDS)]
    with AppServer(args=args, env=env) as server:
        server.wait_ready(timeout=180)
        yield server
        print(server.log()[-3000:])


@pytest.fixture(scope="module")
def client(app, tmp_path_factory: pytest.TempPathFactory) -> Client:
    return Client(app.url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


# --------------------------------------------------------------------------- tests


def test_help_lists_options():
    out = subprocess.run([sys.executable, str(APP), "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for flag in ("--share", "--port", "--host", "--max-audio-seconds", "--weights"):
        assert flag in out.stdout


def test_generate_returns_four_panels_and_a_video_with_sound(client, inputs):
    aligned, plot, field, video, combined, info = client.predict(
        handle_file(str(inputs["portrait"])), handle_file(str(inputs["speech"])), api_name="/generate"
    )
    for name, path in {"aligned": aligned, "plot": plot, "field": field, "video": video, "combined": combined}.items():
        assert path and Path(path).is_file() and Path(path).stat().st_size > 0, f"{name} missing: {path!r}"
    with Image.open(aligned) as im:
        assert min(im.size) >= 128
    with Image.open(plot) as im:
        assert min(im.size) >= 100

    speech_seconds = _wav_seconds(inputs["speech"])
    out = _probe(video)
    tolerance = 2.0 / out["fps"] + 0.05
    assert abs(out["seconds"] - speech_seconds) <= tolerance, (out, speech_seconds)
    assert abs(out["fps"] - 25.0) < 0.01
    assert out["audio"], "the output video has no audio stream"
    assert out["size"] == (512, 600)  # the whole picture (Grace Hopper's 512x600), the default framing

    motion = _probe(field)
    assert abs(motion["seconds"] - speech_seconds) <= tolerance
    side = _probe(combined)
    assert side["audio"], "the side-by-side video has no audio stream"
    assert abs(side["seconds"] - speech_seconds) <= tolerance
    assert "frond-motion (bundled)" in info and "training-free prior" in info  # no FROND_WEIGHTS: the bundled stages, and the app says so


def test_settings_reach_the_pipeline(client, inputs):
    *_, video, _combined, info = client.predict(
        handle_file(str(inputs["portrait"])), handle_file(str(inputs["speech"])),
        0.8, 0.5, 0.0, 0.0, 256, 10, "crop", 3, api_name="/generate",
    )
    out = _probe(video)
    assert abs(out["fps"] - 10.0) < 0.01
    assert "10 fps" in info


def test_the_api_pages_example_runs_as_printed(client, inputs):
    """The API page writes each parameter's default as its example, a Literal's as a string (size="256");
    its files are sample URLs, here real files."""
    parameters = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/generate"]["parameters"]
    files = {"portrait": inputs["portrait"], "speech": inputs["speech"]}
    example = {}
    for p in parameters:
        name, default = p["parameter_name"], p["parameter_default"]
        literal = p["python_type"]["type"].startswith("Literal[")
        example[name] = handle_file(str(files[name])) if name in files else str(default) if literal else default
    assert example["size"] == "256", example  # what the page prints
    *_, video, _combined, info = client.predict(**example, api_name="/generate")
    from PIL import Image

    assert _probe(video)["size"] == Image.open(inputs["portrait"]).size  # the default framing: the picture as uploaded
    assert "made in" in info


def test_the_api_page_documents_the_tables_ranges(client):
    parameters = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/generate"]["parameters"]
    types = {p["parameter_name"]: p["type"] for p in parameters}
    assert types["lip_scale"]["description"] == "within 0..3"  # the slider stops at 2; the API takes what the CLI takes
    assert types["seed"] == {"type": "integer", "description": "a whole number >= 0"}


@pytest.mark.parametrize("setting, value, message", [
    ("smoothing", 5, "smoothing must be within 0..1, got 5.0"),
    ("fps", 1000, "fps must be within 1..60, got 1000.0"),
    ("seed", -1, "seed must be a whole number >= 0, got -1"),
    ("motion", "foo", "motion must be learned or prior, got 'foo'"),
    ("size", 300, "size must be 256 or 512, got 300"),
    ("framing", "wide", "framing must be picture or crop, got 'wide'"),
])
def test_a_bad_setting_raises_validation_error_with_the_clis_message(client, inputs, setting, value, message):
    with pytest.raises(ValidationError) as err:
        client.predict(handle_file(str(inputs["portrait"])), handle_file(str(inputs["speech"])), api_name="/generate",
                       **{setting: value})
    assert f"- {setting}: {message}" in str(err.value), str(err.value)  # named, with the CLI's words


def test_a_driving_video_wins_over_the_speech(client, inputs, tmp_path):
    """The optional driving video: its face drives the portrait, its soundtrack is the output's, and with
    speech given too the summary says that the video won."""
    from .test_generate import driving_clip

    drive = tmp_path / "drive.mp4"
    driving_clip(drive, frames=30, audio=inputs["speech"])
    *_, video, _combined, info = client.predict(
        handle_file(str(inputs["portrait"])), handle_file(str(inputs["speech"])),
        driving_video=handle_file(str(drive)), api_name="/generate",
    )
    out = _probe(video)
    assert out["frames"] == 30 and out["audio"] and out["size"] == (512, 600)
    assert "driving video" in info and "speech was not used" in info


@pytest.mark.parametrize(
    "portrait, speech, expected",
    [
        ("not_image", "speech", "image"),
        ("portrait", "not_audio", "audio"),
        ("portrait", "too_long", f"{MAX_AUDIO_SECONDS:g}"),
    ],
)
def test_bad_input_gives_a_message_not_a_traceback(client, inputs, portrait, speech, expected):
    with pytest.raises((AppError, ValidationError)) as err:
        client.predict(handle_file(str(inputs[portrait])), handle_file(str(inputs[speech])), api_name="/generate")
    message = str(err.value)
    assert expected in message.lower() or expected in message, message
    assert "Traceback" not in message and 'File "' not in message


def test_missing_input_gives_a_message(client, inputs):
    with pytest.raises((AppError, ValidationError), match="portrait"):
        client.predict(None, handle_file(str(inputs["speech"])), api_name="/generate")


def test_bad_input_is_answered_before_queueing(client, inputs, tmp_path):
    """While a generation holds the only slot, bad input (no face, not audio) is refused at once, not after its turn."""
    blank = tmp_path / "blank.png"
    Image.new("RGB", (400, 300), (120, 160, 200)).save(blank)
    busy = _write_wav(tmp_path / "busy.wav", _synthetic_voice(MAX_AUDIO_SECONDS - 0.5))  # keeps the slot for seconds
    job = client.submit(handle_file(str(inputs["portrait"])), handle_file(str(busy)), api_name="/generate", size=512)
    while job.status().code.name not in ("PROCESSING", "PROGRESS") and not job.done():
        time.sleep(0.05)
    for portrait, speech, expected in ((blank, inputs["speech"], "no face found"), (inputs["portrait"], inputs["not_audio"], "audio")):
        start = time.perf_counter()
        with pytest.raises(ValidationError) as err:
            client.predict(handle_file(str(portrait)), handle_file(str(speech)), api_name="/generate")
        assert expected in str(err.value).lower(), str(err.value)
        assert time.perf_counter() - start < 10.0
    assert not job.done(), "the generation finished first: this test proves nothing"
    job.result(timeout=300)


def _peak_kb(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in KB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_an_image_bomb_is_refused_before_queueing_without_decoding_it(app, client, inputs, tmp_path):
    """A 50 KB PNG of 400 megapixels: refused by the validator from its header (decoded, it took 2 GB and 20 s)."""
    bomb = write_png_bomb(tmp_path / "bomb.png")
    assert app.proc is not None
    before = _peak_kb(app.proc.pid)
    start = time.perf_counter()
    with pytest.raises(ValidationError) as err:
        client.predict(handle_file(str(bomb)), handle_file(str(inputs["speech"])), api_name="/generate")
    seconds = time.perf_counter() - start
    assert "20000x20000 pixels" in str(err.value) and "over the limit of 100 megapixels" in str(err.value), str(err.value)
    grown = (_peak_kb(app.proc.pid) - before) / 1024
    assert grown < 300, f"the app's peak memory grew {grown:.0f} MB"
    assert seconds < 10.0, f"{seconds:.1f} s"  # upload, validation and answer: well under a second here


def test_several_faces_are_noted_beside_the_portrait_and_in_the_summary(client, inputs, tmp_path):
    hopper = Image.open(inputs["portrait"]).convert("RGB")
    pair = Image.new("RGB", (hopper.width * 2 + 40, hopper.height), (128, 128, 128))
    pair.paste(hopper, (0, 0))
    pair.paste(hopper.resize((hopper.width * 4 // 5, hopper.height * 4 // 5)), (hopper.width + 40, 60))
    path = tmp_path / "two.png"
    pair.save(path)
    note = "Found 2 faces; animating the largest"
    assert note in client.predict(handle_file(str(path)), api_name="/portrait_note")
    assert client.predict(handle_file(str(inputs["portrait"])), api_name="/portrait_note") == "", "one face: no note"
    *_, info = client.predict(handle_file(str(path)), handle_file(str(inputs["speech"])), api_name="/generate", fps=10)
    assert note in info, info


def test_app_keeps_serving_after_errors_without_reloading(app, client, inputs):
    with pytest.raises((AppError, ValidationError)):
        client.predict(handle_file(str(inputs["not_image"])), handle_file(str(inputs["speech"])), api_name="/generate")
    job = client.submit(
        handle_file(str(inputs["portrait"])), handle_file(str(inputs["speech"])), api_name="/generate", fps=10
    )
    stages: set[str] = set()
    while not job.done():  # progress arrives with stage names
        stages.update(p.desc for p in (job.status().progress_data or []) if p.desc)
        time.sleep(0.05)
    *_, video, _combined, _info = job.result(timeout=300)
    assert Path(video).is_file()
    assert stages, "no progress with stage names was reported"
    assert app.proc.poll() is None
    assert app.log().count("pipeline ready in") == 1, "the pipeline was built more than once"


def test_unreachable_weights_start_fast_on_the_prior_with_a_notice(tmp_path):
    """FROND_WEIGHTS names a Hub repo but the Hub is unreachable: no waiting on retries at start-up."""
    env = {
        "FROND_WEIGHTS": "nobody/frond-weights-test@main",
        "HF_ENDPOINT": "http://127.0.0.1:9",  # nothing listens there: the Hub is "offline"
        "HF_HUB_OFFLINE": "",
        "HF_HOME": str(tmp_path / "hf"),
        "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
    }
    with AppServer(args=["--examples-dir", str(tmp_path)], env=env) as server:
        seconds = server.wait_ready(timeout=120)
        log = server.log()
        with urllib.request.urlopen(server.url + "config", timeout=30) as response:
            page = response.read().decode()
    assert "could not be loaded" in page and "nobody/frond-weights-test@main" in page, "no visible warning on the page"
    assert seconds < 30, f"start-up took {seconds:.1f} s"
    path = log.split("path: ", 1)[1].splitlines()[0]  # the prior (and the bundled motion network), not the weights asked for
    assert "training-free prior" in path and "nobody/frond-weights-test" not in path, path
    assert "[frond]" in log.split("path:")[0], "no notice about the weights"

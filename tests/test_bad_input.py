"""Bad input: one clear line on stderr, exit status 2, no traceback, no output file."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from frond import FrondInputError, FrondPipeline, GenerationSettings, Limits
from frond.media import load_image, probe_video

from .conftest import EXAMPLES, RATE, ROOT, run_cli, voiced, write_png_bomb, write_wav

MEASURED = """\
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(done.returncode, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stderr.write(done.stderr)
"""  # runs a command; prints its exit status, wall seconds and peak memory (KB, the largest of its processes)


def expect_refusal(tmp_path: Path, portrait: Path, audio: Path, *extra: str, message: str) -> None:
    out = tmp_path / "out.mp4"
    done = run_cli("generate", "--portrait", str(portrait), "--audio", str(audio), "--out", str(out), "--quiet", *extra)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message.lower() in lines[0].lower(), done.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".out*")), "a half-written temporary file was left behind"


@pytest.fixture(scope="module")
def short_speech(tmp_path_factory) -> Path:
    return write_wav(tmp_path_factory.mktemp("a") / "short.wav", voiced(1.0))


def test_not_an_image(tmp_path, short_speech):
    bogus = tmp_path / "portrait.png"
    bogus.write_text("this is not a picture")
    expect_refusal(tmp_path, bogus, short_speech, message="could not read the portrait")


def test_missing_files(tmp_path, portrait, short_speech):
    expect_refusal(tmp_path, tmp_path / "nope.jpg", short_speech, message="portrait not found")
    expect_refusal(tmp_path, portrait, tmp_path / "nope.wav", message="audio not found")


def test_no_face(tmp_path, short_speech):
    gradient = np.tile(np.linspace(0, 255, 400, dtype=np.uint8)[None, :, None], (300, 1, 3))
    path = tmp_path / "landscape.png"
    Image.fromarray(gradient).save(path)
    expect_refusal(tmp_path, path, short_speech, message="no face found")


def test_face_too_small(tmp_path, portrait, short_speech):
    """A face the detector finds but under the 64 px README names: "too small", not "no face"."""
    small = Image.open(portrait).convert("RGB").resize((240, 240), Image.LANCZOS)  # the face: about 50 px across
    canvas = Image.new("RGB", (1200, 1200), (200, 200, 200))
    canvas.paste(small, (500, 500))
    path = tmp_path / "tiny_face.png"
    canvas.save(path)
    expect_refusal(tmp_path, path, short_speech, message="the face is too small")


def test_not_audio_and_corrupt_audio(tmp_path, portrait):
    text = tmp_path / "speech.mp3"
    text.write_text("hello, I am text")
    expect_refusal(tmp_path, portrait, text, message="could not read")
    corrupt = tmp_path / "corrupt.wav"
    good = write_wav(tmp_path / "good.wav", voiced(1.0)).read_bytes()
    corrupt.write_bytes(good[:44] + bytes(np.random.default_rng(0).integers(0, 255, 2000, dtype=np.uint8)))
    done = run_cli("generate", "--portrait", str(portrait), "--audio", str(corrupt), "--out", str(tmp_path / "c.mp4"), "--quiet")
    # a WAV with a truncated body is still decodable PCM: either refused clearly or rendered, never a crash
    assert done.returncode in (0, 2) and "Traceback" not in done.stderr
    image_as_audio = tmp_path / "photo.wav"
    image_as_audio.write_bytes(portrait.read_bytes())
    expect_refusal(tmp_path, portrait, image_as_audio, message="")


def test_audio_too_short_and_too_long(tmp_path, portrait):
    expect_refusal(tmp_path, portrait, write_wav(tmp_path / "blip.wav", voiced(0.1)), message="at least 0.2 s")
    long = write_wav(tmp_path / "long.wav", voiced(3.0))
    expect_refusal(tmp_path, portrait, long, "--max-audio-seconds", "2", message="longer than the limit")


def test_video_file_without_audio_track(tmp_path, portrait):
    import av

    path = tmp_path / "silent_video.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for _ in range(10):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")))
        container.mux(stream.encode(None))
    expect_refusal(tmp_path, portrait, path, message="no audio stream")


def test_bad_settings(tmp_path, portrait, short_speech):
    expect_refusal(tmp_path, portrait, short_speech, "--smoothing", "4", message="--smoothing must be within")
    expect_refusal(tmp_path, portrait, short_speech, "--face-index", "3", message="face 3 was asked for")


@pytest.mark.parametrize("option,value,message", [
    ("--max-audio-seconds", "-1", "--max-audio-seconds: must be a number of seconds > 0"),
    ("--max-audio-seconds", "nan", "--max-audio-seconds: must be a finite number"),
    ("--fps", "inf", "--fps: must be a finite number"),
    ("--fps", "0", "--fps must be within 1..60"),
    ("--seed", "-1", "--seed must be a whole number >= 0"),
    ("--lip-scale", "-0.5", "--lip-scale must be within 0..3"),
    ("--size", "300", "invalid choice"),
    ("--face-index", "-1", "--face-index must be a whole number >= 0"),
    ("--max-image-pixels", "1e9", "--max-image-pixels: must be a number of pixels within 4096..400000000"),
])
def test_option_values_are_validated_before_any_work(tmp_path, portrait, short_speech, option, value, message):
    expect_refusal(tmp_path, portrait, short_speech, option, value, message=message)


def test_weights_that_cannot_be_loaded_are_an_error(tmp_path, portrait, short_speech):
    """The user asked for a model: silently getting another would be wrong."""
    expect_refusal(tmp_path, portrait, short_speech, "--weights", str(tmp_path / "no_such_weights"), message="--weights")
    empty = tmp_path / "empty_weights"
    empty.mkdir()
    expect_refusal(tmp_path, portrait, short_speech, "--weights", str(empty), message="lacks config.json")


def test_nan_audio_says_what_to_do(tmp_path, portrait):
    import soundfile as sf

    samples = voiced(1.0)
    samples[500:600] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, samples, RATE, subtype="FLOAT")
    expect_refusal(tmp_path, portrait, path, message="export it again")


def test_a_normal_run_prints_no_third_party_log_lines(tmp_path, portrait, short_speech):
    """MediaPipe/TFLite write `W0000 ...` and "Created TensorFlow Lite ..." from C++: held back without --verbose."""
    out = tmp_path / "quiet.mp4"
    done = run_cli("generate", "--portrait", str(portrait), "--audio", str(short_speech), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr
    loud = run_cli("generate", "--portrait", str(portrait), "--audio", str(short_speech), "--out", str(out),
                   "--quiet", "--verbose")
    assert loud.returncode == 0, loud.stderr


def test_silence_gives_a_valid_video_with_a_closed_mouth(tmp_path, portrait):
    silence = write_wav(tmp_path / "silence.wav", np.zeros(int(2.0 * RATE)))
    pipe = FrondPipeline()
    result = pipe.generate(portrait.parent / "grace_hopper.jpg", silence, tmp_path / "s.mp4", GenerationSettings())
    info = probe_video(result.video_path)
    assert info["frames"] == 50 and info["audio_codec"] == "aac"
    assert np.max(result.motion.channels["open"]) < 0.01
    assert any("silent" in n for n in result.notices)
    assert np.ptp(result.motion.head_pose[:, 0]) > 0.05  # idle motion, not a frozen frame


def test_an_image_bomb_is_refused_from_its_header(tmp_path, short_speech):
    """400 megapixels in a 50 KB PNG: refused before decoding, in the library and the CLI (it was decoded in
    full: 2 GB and 20 s, then "no face found")."""
    bomb = write_png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 200_000
    start = time.perf_counter()
    with pytest.raises(FrondInputError, match="20000x20000 pixels .* over the limit of 100 megapixels"):
        load_image(bomb)
    assert time.perf_counter() - start < 1.0
    out = tmp_path / "out.mp4"
    cli = [sys.executable, "-m", "frond", "generate", "--portrait", str(bomb), "--audio", str(short_speech),
           "--out", str(out), "--quiet"]
    done = subprocess.run([sys.executable, "-c", MEASURED, *cli], cwd=ROOT, capture_output=True, text=True, timeout=120)
    status, seconds, peak_kb = done.stdout.split()
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert int(status) == 2 and len(errors) == 1 and "over the limit of 100 megapixels" in errors[0], done.stderr
    assert "Traceback" not in done.stderr and not out.exists()
    assert int(peak_kb) < 300 * 1024, f"peak memory {int(peak_kb) / 1024:.0f} MB"
    assert float(seconds) < 10.0, f"{float(seconds):.1f} s, start-up included"  # about 0.7 s on 2 cores


def test_the_pixel_limit_holds_for_every_source_and_past_pils_own_check(tmp_path):
    limits = Limits(max_image_pixels=100_000)
    with pytest.raises(FrondInputError, match="512x512 pixels .* limit of 0.1 megapixels"):
        load_image(EXAMPLES / "astronaut.png", limits)
    with pytest.raises(FrondInputError, match="400x300 pixels"):
        load_image(np.zeros((300, 400, 3), np.uint8), limits)
    with pytest.raises(FrondInputError, match="400x300 pixels"):
        load_image(Image.new("RGB", (400, 300)), limits)
    huge = write_png_bomb(tmp_path / "huge.png", 40_000, 30_000)  # 1.2 gigapixels: PIL's own bomb check fires first
    with pytest.raises(FrondInputError, match="over 800 megapixels; the limit is 100 megapixels"):
        load_image(huge)
    with pytest.raises(ValueError, match="pixel limit"):
        Limits(max_image_pixels=10**9)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_a_6000x4000_photo_is_used_and_a_large_jpeg_is_decoded_reduced(tmp_path):
    """A big real photo is still welcome (downscaled), and a JPEG far over the side limit is decoded at a
    fraction of its scale (JPEG draft mode), not in full and then shrunk."""
    hopper = Image.open(EXAMPLES / "grace_hopper.jpg").convert("RGB")
    face = hopper.resize((round(hopper.width * 4000 / hopper.height), 4000), Image.BICUBIC)
    canvas = Image.new("RGB", (6000, 4000), (90, 110, 130))
    canvas.paste(face, (1300, 0))
    path = tmp_path / "photo.jpg"
    canvas.save(path, quality=90)
    image, notices = load_image(path)
    assert image.shape == (2731, 4096, 3)
    assert any("was 6000px on its long side; downscaled to 4096px" in n for n in notices)
    pipe = FrondPipeline(landmarks="mediapipe", use_phones=False)
    try:
        face_found = pipe.find_face(image, GenerationSettings())
    finally:
        pipe.close()
    x0, _, x1, _ = face_found.detection.box
    scale = 4096 / 6000
    assert 1300 * scale < x0 < x1 < (1300 + face.width) * scale and x1 - x0 > 500  # Grace Hopper's face, 850 px wide
    probe = ("import sys\nfrom frond import Limits\nfrom frond.media import load_image\n"
             "def peak(): return int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])\n"
             "before = peak()\n"
             "image, notices = load_image(sys.argv[1], Limits(max_image_side=1500))\n"
             "print(image.shape[1], image.shape[0], peak() - before, notices)")  # VmHWM: this process's own peak, in KB
    done = subprocess.run([sys.executable, "-c", probe, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    width, height, grown_kb, *_ = done.stdout.split()
    assert (int(width), int(height)) == (1500, 1000), done.stdout + done.stderr
    assert "was 6000px" in done.stdout
    assert int(grown_kb) < 30 * 1024, f"{int(grown_kb) / 1024:.0f} MB: not decoded at 1/4 scale?"  # 15 MB; 47 at 1/2


def test_huge_image_is_downscaled(tmp_path, portrait, short_speech):
    big = Image.open(portrait).convert("RGB").resize((5000, 5000), Image.BICUBIC)
    path = tmp_path / "huge.jpg"
    big.save(path, quality=80)
    result = FrondPipeline().generate(path, short_speech, tmp_path / "h.mp4", GenerationSettings())
    assert any("downscaled to 4096" in n for n in result.notices)
    assert (probe_video(result.video_path)["width"], probe_video(result.video_path)["height"]) == (720, 720)  # max_side


# --------------------------------------------------------------------------- output paths, checked before any work


def _refuse_out(tmp_path: Path, portrait: Path, audio: Path, out: Path, *extra: str, message: str) -> None:
    """--out (or --save-intermediates) refused with one error line, status 2, inputs untouched, nothing created."""
    before = {p: p.read_bytes() for p in (portrait, audio)}
    listing = sorted(tmp_path.rglob("*"))
    done = run_cli("generate", "--portrait", str(portrait), "--audio", str(audio), "--out", str(out), "--quiet", *extra)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message.lower() in lines[0].lower(), done.stderr
    assert all(p.read_bytes() == data for p, data in before.items()), "an input was changed"
    assert sorted(tmp_path.rglob("*")) == listing, "something was left behind"


@pytest.fixture()
def own_inputs(tmp_path, portrait) -> tuple[Path, Path]:
    """Copies of the inputs in the test's folder, so that overwriting them would show."""
    image = tmp_path / "portrait.png"
    image.write_bytes(portrait.read_bytes())
    return image, write_wav(tmp_path / "speech.wav", voiced(1.0))


def test_out_that_is_an_input_is_refused(tmp_path, own_inputs):
    image, audio = own_inputs
    _refuse_out(tmp_path, image, audio, audio, message="would destroy the input")
    _refuse_out(tmp_path, image, audio, image, message="would destroy the input")
    _refuse_out(tmp_path, image, audio, tmp_path / "." / "speech.wav", message="would destroy the input")
    link = tmp_path / "link.mp4"
    link.symlink_to(audio)
    _refuse_out(tmp_path, image, audio, link, message="would destroy the input")
    hard = tmp_path / "hard.mp4"
    os.link(image, hard)
    _refuse_out(tmp_path, image, audio, hard, message="would destroy the input")


def test_out_that_is_a_folder_or_under_a_file_is_refused(tmp_path, own_inputs):
    image, audio = own_inputs
    folder = tmp_path / "videos"
    folder.mkdir()
    _refuse_out(tmp_path, image, audio, folder, message="is a folder")
    _refuse_out(tmp_path, image, audio, tmp_path / "out.webm", message="must end in .mp4")
    _refuse_out(tmp_path, image, audio, image / "out.mp4", message="is a file, not a folder")
    _refuse_out(tmp_path, image, audio, image / "deeper" / "out.mp4", message="is a file, not a folder")


def test_out_in_a_folder_that_cannot_be_written_is_refused(tmp_path, own_inputs):
    image, audio = own_inputs
    _refuse_out(tmp_path, image, audio, Path("/proc/frond_out.mp4"), message="not writable")
    if os.geteuid() != 0:  # root writes into read-only-mode folders anyway
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        try:
            _refuse_out(tmp_path, image, audio, locked / "out.mp4", message="not writable")
        finally:
            locked.chmod(0o755)


def test_intermediates_that_would_overwrite_an_input_are_refused(tmp_path, own_inputs):
    image, audio = own_inputs
    renamed = tmp_path / "aligned.png"  # --save-intermediates writes aligned.png into its folder
    image.rename(renamed)
    _refuse_out(tmp_path, renamed, audio, tmp_path / "out.mp4", "--save-intermediates", str(tmp_path),
                message="would overwrite the input")
    _refuse_out(tmp_path, renamed, audio, tmp_path / "out.mp4", "--save-intermediates", str(audio), message="is a file")


def test_missing_parent_folders_are_created(tmp_path, own_inputs):
    image, audio = own_inputs
    out = tmp_path / "new" / "deeper" / "out.mp4"
    done = run_cli("generate", "--portrait", str(image), "--audio", str(audio), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert probe_video(out)["frames"] == 25
    assert not list(out.parent.glob(".*")), "a temporary file was left behind"

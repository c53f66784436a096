"""Bad input: one clear line on stderr, exit status 2, no traceback, no output file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from frond import FrondPipeline, GenerationSettings
from frond.media import load_audio, probe_video

from .conftest import RATE, run_cli, voiced, write_wav


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
    small = Image.open(portrait).convert("RGB").resize((170, 170), Image.LANCZOS)
    canvas = Image.new("RGB", (1200, 1200), (200, 200, 200))
    canvas.paste(small, (500, 500))
    path = tmp_path / "tiny_face.png"
    canvas.save(path)
    out = tmp_path / "out.mp4"
    done = run_cli("generate", "--portrait", str(path), "--audio", str(short_speech), "--out", str(out), "--quiet")
    assert done.returncode == 2 and not out.exists()
    assert "too small" in done.stderr or "no face found" in done.stderr.lower()


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
    expect_refusal(tmp_path, portrait, short_speech, "--smoothing", "4", message="smoothing must be within")
    expect_refusal(tmp_path, portrait, short_speech, "--face-index", "3", message="face 3 was asked for")


def test_silence_gives_a_valid_video_with_a_closed_mouth(tmp_path, portrait):
    silence = write_wav(tmp_path / "silence.wav", np.zeros(int(2.0 * RATE)))
    pipe = FrondPipeline()
    result = pipe.generate(portrait.parent / "grace_hopper.jpg", silence, tmp_path / "s.mp4", GenerationSettings())
    info = probe_video(result.video_path)
    assert info["frames"] == 50 and info["audio_codec"] == "aac"
    assert np.max(result.motion.channels["open"]) < 0.01
    assert any("silent" in n for n in result.notices)
    assert np.ptp(result.motion.head_pose[:, 0]) > 0.05  # idle motion, not a frozen frame


def test_huge_image_is_downscaled(tmp_path, portrait, short_speech):
    big = Image.open(portrait).convert("RGB").resize((5000, 5000), Image.BICUBIC)
    path = tmp_path / "huge.jpg"
    big.save(path, quality=80)
    result = FrondPipeline().generate(path, short_speech, tmp_path / "h.mp4", GenerationSettings())
    assert any("downscaled to 4096" in n for n in result.notices)
    assert probe_video(result.video_path)["width"] == 256


@pytest.mark.parametrize("suffix,codec", [("mp3", "libmp3lame"), ("m4a", "aac"), ("ogg", "libopus"),
                                          ("flac", "flac"), ("webm", "libopus")])
def test_audio_formats(tmp_path, suffix, codec):
    """Any common container/codec at any rate and channel count decodes to the same speech."""
    import av

    seconds, rate = 1.5, 44100
    samples = voiced(seconds, rate=rate)
    stereo = np.stack([samples, 0.5 * samples])
    path = tmp_path / f"speech.{suffix}"
    try:
        with av.open(str(path), "w") as container:
            stream = container.add_stream(codec, rate=48000 if codec == "libopus" else rate)
            stream.layout = "stereo"
            frame = av.AudioFrame.from_ndarray(stereo.astype(np.float32).reshape(1, -1, order="F"), format="flt", layout="stereo")
            frame.sample_rate = rate
            resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="stereo", rate=stream.rate)
            for chunk in resampler.resample(frame) + resampler.resample(None):
                for packet in stream.encode(chunk):
                    container.mux(packet)
            container.mux(stream.encode(None))
    except (av.FFmpegError, ValueError) as exc:
        pytest.skip(f"this PyAV build cannot encode {codec}: {exc}")
    clip = load_audio(path)
    assert clip.sample_rate == 16000 and clip.samples.ndim == 1
    assert abs(clip.duration - seconds) < 0.1
    assert 0.05 < np.abs(clip.samples).max() <= 1.0

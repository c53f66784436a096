"""Speech in every common container and rate decodes, and the video's soundtrack lasts as long as the speech.

Each file is made here with PyAV (48 kHz MP3, Opus in WebM, AAC in MKV, Vorbis in OGG at 44.1 kHz, ...).
The output's duration is checked three ways: the container's header, the decoded audio samples,
and the video frames: a header that trusts the input's timestamps (WebM's milliseconds) or a
soundtrack resampled twice shows up here.
"""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from frond import FrondPipeline, GenerationSettings
from frond.media import load_audio

from .conftest import EXAMPLES, voiced

SECONDS = 2.0
FORMATS = [  # (file suffix, encoder, sample rate)
    ("mp3", "libmp3lame", 48000),
    ("mp3", "libmp3lame", 44100),
    ("webm", "libopus", 48000),
    ("ogg", "libopus", 48000),
    ("mkv", "aac", 48000),
    ("m4a", "aac", 44100),
    ("m4a", "aac", 22050),
    ("ogg", "vorbis", 44100),
    ("flac", "flac", 96000),
    ("wav", "pcm_s16le", 11025),
]


def make_audio(path: Path, codec: str, rate: int, seconds: float = SECONDS) -> Path:
    """A stereo synthetic voice encoded with `codec` at `rate` into `path`'s container."""
    samples = voiced(seconds, rate=rate)
    stereo = np.stack([samples, 0.5 * samples]).astype(np.float32)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "stereo"
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "experimental"}  # FFmpeg's own Vorbis encoder
        frame = av.AudioFrame.from_ndarray(stereo.reshape(1, -1, order="F"), format="flt", layout="stereo")
        frame.sample_rate = rate
        fmt = stream.codec_context.codec.audio_formats[0].name
        resampler = av.AudioResampler(format=fmt, layout="stereo", rate=rate, frame_size=stream.codec_context.frame_size or 1024)
        for chunk in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(chunk):
                container.mux(packet)
        container.mux(stream.encode(None))
    return path


def soundtrack_seconds(path: Path) -> tuple[float, float, float]:
    """(container header duration, decoded audio samples / rate, video frames / fps) of an MP4."""
    with av.open(str(path)) as container:
        header = container.duration / av.time_base
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0)) / float(video.average_rate)
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        samples = sum(f.samples for f in container.decode(audio=0)) / audio.rate
    return header, samples, frames


@pytest.fixture(scope="module")
def pipeline() -> FrondPipeline:
    pipe = FrondPipeline()
    yield pipe
    pipe.close()


@pytest.mark.parametrize("suffix,codec,rate", FORMATS, ids=[f"{c}-{r}-{s}" for s, c, r in FORMATS])
def test_any_rate_in_any_container_gives_a_video_as_long_as_the_speech(tmp_path, pipeline, suffix, codec, rate):
    source = make_audio(tmp_path / f"speech.{suffix}", codec, rate)
    clip = load_audio(source)
    slack = 0.01 + 2 * 1152 / rate  # codecs add up to a frame of priming and a frame of padding
    assert clip.sample_rate == 16000 and clip.samples.ndim == 1
    assert abs(clip.duration - SECONDS) < slack
    assert 0.05 < np.abs(clip.samples).max() <= 1.0
    result = pipeline.generate(EXAMPLES / "grace_hopper.jpg", source, tmp_path / "out.mp4", GenerationSettings())
    header, samples, frames = soundtrack_seconds(result.video_path)
    assert abs(samples - clip.duration) < 0.05, f"the soundtrack holds {samples:.3f} s of audio for {clip.duration:.3f} s"
    assert abs(header - clip.duration) < 0.08, f"the container says {header:.3f} s for {clip.duration:.3f} s"
    assert abs(frames - clip.duration) <= 0.02 + 1e-6
    with av.open(str(result.video_path)) as container:
        assert container.streams.audio[0].rate in (rate, 48000)  # the source's rate when AAC takes it: resampled once at most

"""Shared fixtures: inputs the tests make themselves (no network, no ../shared needed)."""
from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import wave
import zlib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared" / "data"
RATE = 16_000


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE, channels: int = 1) -> Path:
    """float samples in [-1, 1], (N,) or (N, channels) -> 16-bit PCM WAV."""
    pcm = np.clip(samples, -1, 1)
    pcm = (pcm * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def write_png_bomb(path: Path, width: int = 20_000, height: int = 20_000) -> Path:
    """A valid, all-black 1-bit PNG of width x height: 400 megapixels in about 50 KB by default.
    Written row by row, so making it costs a few MB, not what decoding it would."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte "none", then the packed pixels
    packer = zlib.compressobj(9)
    body = b"".join([packer.compress(row) for _ in range(height)] + [packer.flush()])
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32767
        return data.reshape(-1, w.getnchannels()).mean(1), w.getframerate()


def voiced(seconds: float, rate: int = RATE, f0: float = 120.0, syllables_hz: float = 4.0, seed: int = 0) -> np.ndarray:
    """A synthetic voice: a glottal-like harmonic buzz through two formants, in syllables."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    buzz = sum(np.sin(k * phase) / k for k in range(1, 30))
    from scipy.signal import butter, sosfilt

    out = np.zeros_like(t)
    for lo, hi in ((600, 1000), (1100, 1600)):
        out += sosfilt(butter(2, [lo, hi], btype="band", fs=rate, output="sos"), buzz)
    envelope = np.clip(np.sin(np.pi * syllables_hz * t) ** 2 * 1.2, 0, 1)
    out = out * envelope + 0.002 * rng.standard_normal(t.size)
    return (0.5 * out / np.max(np.abs(out))).astype(np.float32)


@pytest.fixture(scope="session")
def portrait() -> Path:
    return EXAMPLES / "astronaut.png"


@pytest.fixture(scope="session")
def speech() -> Path:
    """Speech the project synthesised with espeak-ng (committed in examples/)."""
    return EXAMPLES / "speech_1.wav"


@pytest.fixture(scope="session")
def speech_with_pauses(tmp_path_factory) -> tuple[Path, tuple[float, float]]:
    """1.2 s silence, 3 s of real (synthesised) speech, 1.5 s silence. Returns the path and the speech span."""
    samples, rate = read_wav(EXAMPLES / "speech_1.wav")
    assert rate == RATE
    body = samples[int(0.3 * rate): int(3.3 * rate)]
    clip = np.concatenate([np.zeros(int(1.2 * rate)), body, np.zeros(int(1.5 * rate))])
    return write_wav(tmp_path_factory.mktemp("audio") / "pauses.wav", clip), (1.2, 4.2)


@pytest.fixture(scope="session")
def espeak_wav(tmp_path_factory) -> Path:
    """Fresh speech from espeak-ng, when it is installed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng not installed")
    path = tmp_path_factory.mktemp("espeak") / "espeak.wav"
    subprocess.run([exe, "-w", str(path), "Peter bought a bag of apples and bananas."], check=True)
    return path


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "frond", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)

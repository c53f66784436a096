"""The default path imports only what it uses, and its numpy speech kernels match librosa's."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from frond.audio import dsp
from frond.errors import FrondInputError
from frond.paths import check_paths

from .conftest import EXAMPLES, ROOT, read_wav, voiced, write_wav

HEAVY = ("torch", "librosa", "numba", "matplotlib", "mediapipe.tasks.python.vision", "face_alignment", "gradio")


def test_a_default_generation_imports_nothing_heavy_it_does_not_use(tmp_path):
    """torch (2-3 s), librosa + numba (1-4 s), matplotlib (via MediaPipe's drawing utilities) stay out."""
    speech = write_wav(tmp_path / "s.wav", voiced(0.6))
    code = ("import sys\n"
            "from frond.__main__ import main\n"
            f"rc = main(['generate', '--portrait', {str(EXAMPLES / 'grace_hopper.jpg')!r}, '--audio', {str(speech)!r},"
            f" '--out', {str(tmp_path / 'o.mp4')!r}, '--quiet'])\n"
            f"print('LOADED', rc, *[m for m in {HEAVY!r} if m in sys.modules])\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "LOADED 0", done.stdout


@pytest.mark.parametrize("signal", ["speech", "noise", "silence", "short"])
def test_numpy_kernels_match_librosa(signal):
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(0)
    y = {"speech": read_wav(EXAMPLES / "speech_1.wav")[0].astype(np.float32),
         "noise": rng.standard_normal(9000).astype(np.float32) * 0.1,
         "silence": np.zeros(6000, np.float32), "short": voiced(0.2)}[signal]
    ours = np.abs(dsp.stft(y, 512, 160)) ** 2
    theirs = np.abs(librosa.stft(y, n_fft=512, hop_length=160, center=True)) ** 2
    assert ours.shape == theirs.shape and np.allclose(ours, theirs, rtol=1e-4, atol=1e-6 * max(theirs.max(), 1e-9))
    assert np.allclose(dsp.fft_frequencies(16000, 512), librosa.fft_frequencies(sr=16000, n_fft=512))
    centroid = librosa.feature.spectral_centroid(y=y, sr=16000, hop_length=160, n_fft=512)[0]
    assert np.allclose(dsp.spectral_centroid(y, 16000, 512, 160), centroid, atol=0.05)
    f0 = librosa.yin(y, fmin=70.0, fmax=400.0, sr=16000, frame_length=1024, hop_length=160)
    ours_f0 = dsp.yin(y, 70.0, 400.0, 16000, 1024, 160)
    assert ours_f0.shape == f0.shape
    assert np.mean(np.abs(ours_f0 - f0) < 0.1) > 0.99  # float32 rounding may move a rare frame's trough
    # the learned motion's log-mel features
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=160, win_length=400, n_mels=80,
                                         fmin=55.0, fmax=7600.0, center=True, power=2.0)
    ours_mel = dsp.mel_power_spectrogram(y, 16000, 512, 160, 400, 80, 55.0, 7600.0)
    assert ours_mel.shape == mel.shape and np.allclose(ours_mel, mel, rtol=1e-3, atol=1e-6 * max(mel.max(), 1e-9))


def test_check_paths_in_process(tmp_path):
    audio = write_wav(tmp_path / "a.wav", voiced(0.3))
    check_paths(tmp_path / "new" / "out.mp4", [audio, None])  # nothing wrong: no error, nothing created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]
    for out, message in [(audio, "destroy the input"), (tmp_path, "is a folder"), (audio / "x.mp4", "is a file"),
                         (tmp_path / "", "is a folder"), ("", "not a file name")]:
        with pytest.raises(FrondInputError, match=message):
            check_paths(out, [audio])
    with pytest.raises(FrondInputError, match="would overwrite --out"):
        check_paths(tmp_path / "parts" / "overlay.mp4", [audio], intermediates=tmp_path / "parts")


def test_warm_fills_the_one_time_caches(tmp_path):
    """./setup.sh runs `python -m frond.warm`: matplotlib's font cache is built there, not on a first run."""
    import os

    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl")}
    done = subprocess.run([sys.executable, "-m", "frond.warm"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "a first generation" in done.stdout
    assert list((tmp_path / "mpl").glob("fontlist-*.json")), "no font cache was written"


def test_bench_ceiling_is_measured(tmp_path):
    from frond.bench import ceiling_fps

    fps = ceiling_fps(256, tmp_path, frames=20, repeats=1)
    assert 1.0 < fps < 10_000
    from frond.media import probe_video

    assert probe_video(tmp_path / "ceiling_256.mp4")["frames"] == 20

"""`python -m frond.warm`: fill the one-time caches now, so that a user's first run does not pay for them.

./setup.sh runs it once per install. Each step prints what it did and how long it took:
- Python bytecode of the project (`frond/`, `app.py`);
- matplotlib's font cache (built the first time pyplot is imported: seconds), used by the
  trajectory plot (`--save-intermediates`, the app);
- librosa's numba kernels (compiled and cached on first call), used by `evaluate` and `prepare`;
- one short generation with intermediates: MediaPipe's detector and mesh, the phone helper,
  x264 and AAC, the plot, end to end.
"""
from __future__ import annotations

import compileall
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]


def _bytecode() -> None:
    compileall.compile_dir(str(ROOT / "frond"), quiet=1)
    compileall.compile_file(str(ROOT / "app.py"), quiet=1)


def _fonts() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(2, 1))
    figure.text(0.1, 0.5, "FROND")
    figure.canvas.draw()
    plt.close(figure)


def _numba() -> None:
    import numpy as np

    try:
        import librosa
    except ImportError:  # only `evaluate` and `prepare` use it
        return
    y = (0.1 * np.sin(2 * np.pi * 150 * np.arange(16000) / 16000)).astype(np.float32)
    librosa.yin(y, fmin=70, fmax=400, sr=16000, frame_length=1024, hop_length=160)
    librosa.feature.spectral_centroid(y=y, sr=16000, hop_length=160, n_fft=512)
    librosa.feature.melspectrogram(y=y, sr=16000)
    librosa.resample(y, orig_sr=16000, target_sr=22050)


def _generation() -> None:
    from .bench import EXAMPLES, speech_of_length
    from .pipeline import FrondPipeline

    with tempfile.TemporaryDirectory(prefix="frond-warm-") as tmp:
        folder = Path(tmp)
        pipe = FrondPipeline()
        try:
            pipe.generate(EXAMPLES / "grace_hopper.jpg", speech_of_length(1.0, folder), folder / "warm.mp4",
                          intermediates_dir=folder / "parts")
        finally:
            pipe.close()


STEPS: tuple[tuple[str, Callable[[], None]], ...] = (
    ("bytecode", _bytecode), ("matplotlib font cache", _fonts), ("librosa numba kernels", _numba),
    ("a first generation (MediaPipe, phones, x264/AAC, plot)", _generation),
)


def main() -> int:
    failed = 0
    for name, step in STEPS:
        start = time.perf_counter()
        try:
            step()
            print(f"warm: {name}: {time.perf_counter() - start:.1f} s")
        except Exception as exc:  # noqa: BLE001 - a cache we could not fill is filled on first use instead
            failed += 1
            print(f"warm: {name} failed ({type(exc).__name__}: {exc}); it will happen on first use", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

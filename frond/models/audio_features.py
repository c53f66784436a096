"""Log-mel features of speech (librosa), shared by `prepare`, training and inference.

16 kHz mono, 25 ms windows, 10 ms hop: frame m is centred at m / 100 s.
"""
from __future__ import annotations

import numpy as np

from ..errors import FrondInputError

SAMPLE_RATE = 16000  # Hz, the analysis rate of every feature
HOP_SECONDS = 0.01  # one mel frame per 10 ms
FRAMES_PER_SECOND = 1.0 / HOP_SECONDS


def log_mel(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, n_mels: int = 80) -> np.ndarray:
    """Speech samples (N,) in [-1, 1] -> normalised log-mel (n_mels, M), M = N / 160 + 1.

    Values are log10 power, shifted and scaled to roughly [-1, 1] for silence .. loud speech.
    """
    import librosa

    y = np.asarray(samples, dtype=np.float32)
    if y.ndim != 1:
        raise FrondInputError(f"audio must be mono samples of shape (N,), got shape {y.shape}")
    if y.size < 400 or not np.isfinite(y).all():
        raise FrondInputError(f"audio must hold at least 25 ms of finite samples, got {y.size} samples")
    if sample_rate != SAMPLE_RATE:
        y = librosa.resample(y, orig_sr=sample_rate, target_sr=SAMPLE_RATE)
    mel = librosa.feature.melspectrogram(
        y=y, sr=SAMPLE_RATE, n_fft=512, hop_length=160, win_length=400,
        n_mels=n_mels, fmin=55.0, fmax=7600.0, center=True, power=2.0,
    )
    return ((np.log10(np.maximum(mel, 1e-6)) + 3.0) / 3.0).astype(np.float32)

"""Log-mel features of speech for the learned motion stage, in training and inference.

16 kHz mono, 25 ms windows, 10 ms hop: frame m is centred at m / 100 s. The levels are
relative to the clip's own loud speech (its 95th-percentile frame), so that a quiet
recording and a loud one give the same features: the network hears articulation, not
microphone gain. No torch here: the default (numpy) motion stage uses it too.
"""
from __future__ import annotations

import numpy as np

from ..errors import FrondInputError
from .dsp import mel_power_spectrogram

SAMPLE_RATE = 16000  # Hz, the analysis rate of every feature
HOP_SECONDS = 0.01  # one mel frame per 10 ms
FRAMES_PER_SECOND = 1.0 / HOP_SECONDS
FLOOR_DECADES = 6.0  # levels more than 60 dB under the clip's loud speech are clipped there
SCALE_DECADES = 2.0  # one feature unit = 20 dB


def mel_power(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, n_mels: int = 80) -> np.ndarray:
    """Speech samples (N,) in [-1, 1] -> log10 mel power (n_mels, M), M = N / 160 + 1 at 16 kHz.

    Any other rate is resampled to 16 kHz first (scipy's polyphase filter).
    """
    y = np.asarray(samples, dtype=np.float32)
    if y.ndim != 1:
        raise FrondInputError(f"audio must be mono samples of shape (N,), got shape {y.shape}")
    if y.size < 400 or not np.isfinite(y).all():
        raise FrondInputError(f"audio must hold at least 25 ms of finite samples, got {y.size} samples")
    if sample_rate != SAMPLE_RATE:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(sample_rate), SAMPLE_RATE)
        y = resample_poly(y, SAMPLE_RATE // g, int(sample_rate) // g).astype(np.float32)
    mel = mel_power_spectrogram(y, SAMPLE_RATE, n_fft=512, hop=160, win_length=400, n_mels=n_mels, fmin=55.0, fmax=7600.0)
    return np.log10(np.maximum(mel, 1e-10)).astype(np.float32)


def speech_level(log_power: np.ndarray) -> float:
    """The clip's loud-speech level: 95th percentile over frames of the mean log10 mel power (n_mels, M)."""
    return float(np.percentile(log_power.mean(axis=0), 95)) if log_power.size else 0.0


def normalise(log_power: np.ndarray, level: float) -> np.ndarray:
    """log10 mel power (n_mels, M) -> features relative to `level`: 0 at loud speech, -3 at 60 dB under."""
    return (np.maximum(log_power - level, -FLOOR_DECADES) / SCALE_DECADES).astype(np.float32)


def speech_mel(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, n_mels: int = 80) -> np.ndarray:
    """Speech (N,) -> level-normalised log-mel features (n_mels, M) at 100 frames/s."""
    power = mel_power(samples, sample_rate, n_mels)
    return normalise(power, speech_level(power))

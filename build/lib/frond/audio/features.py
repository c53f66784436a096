"""Speech features (numpy kernels that match librosa's, in `dsp`), sampled at arbitrary times.

All functions take mono float32 samples and return values at `times` (seconds), so
the motion stage can ask for any frame rate.
"""
from __future__ import annotations

import numpy as np

from . import dsp

HOP_SECONDS = 0.01  # analysis hop: 100 frames per second
PITCH_HOP_SECONDS = 0.02  # pitch only lifts the head, slowly: 50 estimates per second are plenty
SPEECH_BAND = (300.0, 3000.0)  # Hz, where speech energy lives
SILENCE_RMS = 3e-4  # below this (about -70 dBFS) a whole clip counts as silent
DYNAMIC_RANGE_DB = 40.0  # envelope maps [peak - 40 dB, peak] to [0, 1]


def _frames(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int, int]:
    hop = int(round(HOP_SECONDS * sample_rate))
    n_fft = 1 << int(np.ceil(np.log2(0.032 * sample_rate)))  # ~32 ms window
    spectrum = np.abs(dsp.stft(samples, n_fft, hop)) ** 2
    return spectrum, n_fft, hop


def _at(values: np.ndarray, hop_seconds: float, times: np.ndarray) -> np.ndarray:
    grid = np.arange(values.shape[-1]) * hop_seconds
    return np.interp(times, grid, values).astype(np.float32)


def band_energy_db(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Speech-band energy per 10 ms hop, in dB. Returns ((F,) dB, hop seconds)."""
    spectrum, n_fft, hop = _frames(samples, sample_rate)
    freqs = dsp.fft_frequencies(sample_rate, n_fft)
    band = (freqs >= SPEECH_BAND[0]) & (freqs <= SPEECH_BAND[1])
    energy = spectrum[band].sum(axis=0) / n_fft
    return 10.0 * np.log10(energy + 1e-12), hop / sample_rate


def speech_envelope(samples: np.ndarray, sample_rate: int, times: np.ndarray) -> np.ndarray:
    """samples (N,), times (T,) -> (T,) speech-band energy envelope in [0, 1].

    0 at or below 40 dB under the clip's loud speech (its 95th percentile), 1 at it.
    A clip that is silent as a whole gives zeros.
    """
    times = np.asarray(times, dtype=np.float64)
    if samples.size == 0 or float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) < SILENCE_RMS:
        return np.zeros(times.shape, np.float32)
    db, hop_s = band_energy_db(samples, sample_rate)
    peak = float(np.percentile(db, 95))
    env = np.clip((db - (peak - DYNAMIC_RANGE_DB)) / DYNAMIC_RANGE_DB, 0.0, 1.0)
    return _at(env, hop_s, times)


def voice_activity(envelope: np.ndarray, threshold: float = 0.45) -> np.ndarray:
    """(T,) speech envelope (`speech_envelope`) -> (T,) soft speech/silence gate in [0, 1].

    Speech where the envelope is above `threshold` (0.45: about 22 dB under loud speech),
    with a soft ramp, so that the mouth closes in pauses.
    """
    return np.clip((envelope - threshold + 0.1) / 0.2, 0.0, 1.0).astype(np.float32)


def spectral_shape(samples: np.ndarray, sample_rate: int, times: np.ndarray) -> np.ndarray:
    """samples (N,), times (T,) -> (T,) spectral centroid in the speech band, scaled to [-1, 1].

    High for front vowels and sibilants (spread lips), low for back rounded vowels.
    """
    times = np.asarray(times, dtype=np.float64)
    if samples.size == 0:
        return np.zeros(times.shape, np.float32)
    hop = int(round(HOP_SECONDS * sample_rate))
    centroid = dsp.spectral_centroid(samples, sample_rate, 512, hop)
    scaled = np.clip((np.log2(np.maximum(centroid, 1.0)) - np.log2(1500.0)) / 1.5, -1.0, 1.0)
    return _at(scaled, hop / sample_rate, times)


def pitch_contour(samples: np.ndarray, sample_rate: int, times: np.ndarray,
                  envelope: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """samples (N,), times (T,) -> (T,) pitch in semitones relative to the clip's median, 0 where unvoiced.

    `envelope`: the clip's (grid, speech envelope) when the caller has it, so it is not computed again.
    """
    times = np.asarray(times, dtype=np.float64)
    if samples.size < 2048:
        return np.zeros(times.shape, np.float32)
    hop = int(round(PITCH_HOP_SECONDS * sample_rate))
    chunk = hop * 500  # 10 s at a time: yin's frame matrix stays small for long clips
    f0 = np.concatenate([
        dsp.yin(np.pad(samples[i: i + chunk], (0, max(0, 2048 - len(samples[i: i + chunk])))), 70.0, 400.0,
                sample_rate, 1024, hop)[: -(-min(chunk, len(samples) - i) // hop) or None]
        for i in range(0, len(samples), chunk)])
    f0_times = np.arange(f0.shape[0]) * hop / sample_rate
    env = np.interp(f0_times, *envelope) if envelope is not None else speech_envelope(samples, sample_rate, f0_times)
    voiced = env > 0.5
    if voiced.sum() < 5:
        return np.zeros(times.shape, np.float32)
    semis = 12.0 * np.log2(f0 / np.median(f0[voiced]))
    semis = np.where(voiced, np.clip(semis, -12.0, 12.0), 0.0)
    return _at(semis, hop / sample_rate, times)

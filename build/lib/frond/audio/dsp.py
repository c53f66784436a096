"""The few spectral kernels the speech features need, in numpy.

They compute what librosa's `stft`, `fft_frequencies`, `feature.spectral_centroid` and `yin`
compute, with the same defaults (centred frames, zero padding, periodic Hann window), and
are tested against librosa to float precision. librosa itself is not imported here: its
import (numba, scipy.signal, soxr, audioread) costs 1-4 s, more than the rest of a short
generation, and nothing else on the default path needs it.
"""
from __future__ import annotations

import numpy as np


def hann(n: int) -> np.ndarray:
    """Periodic Hann window (n,) (scipy's get_window("hann", n, fftbins=True))."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float64)


def frames(y: np.ndarray, frame_length: int, hop: int, center: bool = True) -> np.ndarray:
    """y (N,) -> (frame_length, F) frames every `hop` samples (a view); centred: zero-padded by half a frame."""
    if center:
        y = np.pad(y, (frame_length // 2, frame_length // 2))
    if y.shape[0] < frame_length:
        raise ValueError(f"signal of {y.shape[0]} samples is shorter than one frame ({frame_length})")
    count = 1 + (y.shape[0] - frame_length) // hop
    return np.lib.stride_tricks.as_strided(y, shape=(frame_length, count), strides=(y.strides[0], hop * y.strides[0]))


def stft(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """y (N,) float -> (1 + n_fft // 2, F) complex spectrum of centred, Hann-windowed frames (librosa.stft)."""
    window = hann(n_fft).astype(y.dtype if np.issubdtype(y.dtype, np.floating) else np.float64)
    spectrum = np.fft.rfft(frames(y, n_fft, hop) * window[:, None], axis=0)
    return spectrum.astype(np.complex64) if y.dtype == np.float32 else spectrum


def fft_frequencies(sample_rate: float, n_fft: int) -> np.ndarray:
    """(1 + n_fft // 2,) centre frequency of each STFT bin, Hz."""
    return np.fft.rfftfreq(n_fft, 1.0 / sample_rate)


def spectral_centroid(y: np.ndarray, sample_rate: float, n_fft: int, hop: int) -> np.ndarray:
    """y (N,) -> (F,) magnitude-weighted mean frequency per frame, Hz; 0 for silent frames."""
    magnitude = np.abs(stft(y, n_fft, hop))
    total = magnitude.sum(axis=0, keepdims=True)
    weights = np.where(total > np.finfo(magnitude.dtype).tiny, magnitude / np.maximum(total, np.finfo(magnitude.dtype).tiny), magnitude)
    return (fft_frequencies(sample_rate, n_fft)[:, None] * weights).sum(axis=0)


def _parabolic_shifts(x: np.ndarray) -> np.ndarray:
    """(K, F) -> (K, F) offset of the parabola through each bin and its neighbours (0 at the ends,
    and where the optimum would lie more than a bin away)."""
    shifts = np.zeros_like(x)
    a = x[2:] + x[:-2] - 2 * x[1:-1]
    b = (x[2:] - x[:-2]) / 2
    inside = np.abs(b) < np.abs(a)
    shifts[1:-1] = np.where(inside, -b / np.where(inside, a, 1), 0)
    return shifts


def yin(y: np.ndarray, fmin: float, fmax: float, sample_rate: float, frame_length: int, hop: int,
        trough_threshold: float = 0.1) -> np.ndarray:
    """y (N,) -> (F,) fundamental frequency per centred frame, Hz (YIN: de Cheveigné & Kawahara 2002).

    The cumulative-mean-normalised difference (eq. 8) per frame; the first trough under
    `trough_threshold`, else the global minimum; refined by parabolic interpolation.
    """
    framed = frames(y, frame_length, hop)
    min_period = int(np.floor(sample_rate / fmax))
    max_period = min(int(np.ceil(sample_rate / fmin)), frame_length - 1)
    n_pad = 1 << int(np.ceil(np.log2(2 * frame_length - 1)))
    acf = np.fft.irfft(np.abs(np.fft.rfft(framed, n=n_pad, axis=0)) ** 2, n=n_pad, axis=0)[: max_period + 1]
    energy = np.cumsum(np.square(framed), axis=0)
    diff = np.zeros((max_period + 1, framed.shape[1]), dtype=energy.dtype)  # the input's precision, as librosa
    diff[1:] = 2 * (acf[0:1] - acf[1:]) - energy[:max_period]
    cumulative_mean = np.cumsum(diff[1:], axis=0) / np.arange(1, max_period + 1)[:, None]
    normalised = diff[min_period:] / (cumulative_mean[min_period - 1:] + np.finfo(cumulative_mean.dtype).tiny)
    shifts = _parabolic_shifts(normalised)
    trough = np.zeros(normalised.shape, bool)
    trough[1:-1] = (normalised[1:-1] < normalised[:-2]) & (normalised[1:-1] <= normalised[2:])
    trough[0] = normalised[0] < normalised[1]
    trough[-1] = normalised[-1] < normalised[-2]
    below = trough & (normalised < trough_threshold)
    period = np.where(below.any(axis=0), np.argmax(below, axis=0), np.argmin(normalised, axis=0))
    refined = min_period + period + np.take_along_axis(shifts, period[None], axis=0)[0]
    return sample_rate / refined


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear to 1 kHz, logarithmic above."""
    hz = np.asarray(hz, np.float64)
    linear = hz / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


def mel_filters(sample_rate: float, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) triangular mel filterbank with Slaney's area normalisation (librosa.filters.mel)."""
    freqs = fft_frequencies(sample_rate, n_fft)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return (weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)


def mel_power_spectrogram(y: np.ndarray, sample_rate: float, n_fft: int, hop: int, win_length: int,
                          n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """y (N,) -> (n_mels, F) mel power spectrogram of centred frames (librosa.feature.melspectrogram with
    power=2: a Hann window of `win_length` centred in `n_fft`)."""
    window = np.zeros(n_fft)
    offset = (n_fft - win_length) // 2
    window[offset: offset + win_length] = hann(win_length)
    spectrum = np.fft.rfft(frames(np.asarray(y, np.float64), n_fft, hop) * window[:, None], axis=0)
    return mel_filters(sample_rate, n_fft, n_mels, fmin, fmax) @ (np.abs(spectrum) ** 2).astype(np.float32)

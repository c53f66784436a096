"""Timed phones from pocketsphinx's bundled English model, in all-phone mode (offline)."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Phone:
    """One recognised phone (ARPAbet, e.g. "AA", "M"; "SIL" for silence)."""

    label: str
    start: float  # seconds
    end: float  # seconds


_lock = threading.Lock()
# the en-us model's phones (ARPAbet without stress) and silence: the learned motion's phone features
PHONE_SET = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
             "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "SIL", "T", "TH", "UH", "UW", "V", "W",
             "Y", "Z", "ZH")


def new_decoder():
    """A new decoder for every clip (~0.1 s): a reused one carries adaptation state from the
    previous clip, so the same audio would give different phones after other audio."""
    from pocketsphinx import Decoder, get_model_path

    model = get_model_path()
    return Decoder(
        hmm=os.path.join(model, "en-us", "en-us"),
        allphone=os.path.join(model, "en-us", "en-us-phone.lm.bin"),
        lw=2.0, pip=0.3, beam=1e-10, pbeam=1e-10, samprate=16000, frate=100, loglevel="FATAL",
        cmn="batch", ds=2,  # every second frame: ~35 % faster, same mouth-opening correlation on real clips
    )


def to_pcm(samples: np.ndarray) -> bytes:
    """(N,) float mono -> level-normalised 16-bit PCM (quiet recordings still decode)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    gain = 0.7 / peak if peak > 1e-4 else 1.0
    return np.clip(samples * gain * 32767.0, -32768, 32767).astype("<i2").tobytes()


def decode_pcm(pcm: bytes, decoder=None) -> list[Phone]:
    """16 kHz 16-bit mono PCM -> phones covering it.

    Noise and filler labels (``+NSN+``, ``+SPN+``, ...) are reported as "SIL". `decoder`: a
    fresh, unused one from `new_decoder()` (built ahead of time), else one is built here.
    """
    decoder = decoder or new_decoder()
    with _lock:
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        segments = [(s.word, s.start_frame / 100.0, (s.end_frame + 1) / 100.0) for s in decoder.seg()]
    return [Phone("SIL" if label.startswith("+") or label in ("<s>", "</s>", "<sil>") else label.upper(), start, end)
            for label, start, end in segments]


def recognise_phones(samples: np.ndarray, sample_rate: int) -> list[Phone]:
    """samples (N,) float32 mono at 16 kHz -> phones covering the clip (in this process)."""
    if sample_rate != 16000:
        raise ValueError(f"pocketsphinx's model wants 16 kHz audio, got {sample_rate} Hz")
    return decode_pcm(to_pcm(samples))


def phone_frames(phones: list[Phone] | None, n_frames: int, hz: float = 100.0) -> np.ndarray:
    """Phones -> one-hot features (len(PHONE_SET), n_frames), frame m at m / hz seconds.

    Frames no phone covers are silence; None (no phones: recognition off or failed) gives zeros.
    """
    out = np.zeros((len(PHONE_SET), n_frames), np.float32)
    if phones is None:
        return out
    index = {p: i for i, p in enumerate(PHONE_SET)}
    silence = index["SIL"]
    out[silence] = 1.0
    times = np.arange(n_frames) / hz
    for phone in phones:
        inside = (times >= phone.start) & (times < phone.end)
        row = index.get(phone.label.upper().rstrip("012"), silence)
        out[:, inside] = 0.0
        out[row, inside] = 1.0
    return out

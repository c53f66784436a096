"""Phones -> visemes: the mouth shape each ARPAbet phone asks for.

A viseme is (open, width, round) with a dominance: how strongly the phone imposes
its shape on its neighbours (coarticulation, after Cohen & Massaro). Bilabials close
the lips and dominate; tongue consonants (t, d, k, ...) borrow the shape around them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Viseme:
    open: float  # jaw/lip opening, 0 = closed lips, 1 = wide open ("aa")
    width: float  # lip spread, -1 = narrow, 0 = rest, 1 = wide smile ("iy")
    round: float  # lip rounding/protrusion, 0 = none, 1 = "uw"
    dominance: float  # weight of this target against its neighbours


SILENCE = Viseme(0.0, 0.0, 0.0, 3.0)

VISEMES: dict[str, Viseme] = {
    # vowels
    "AA": Viseme(0.95, 0.05, 0.0, 2.0), "AE": Viseme(0.80, 0.40, 0.0, 2.0), "AH": Viseme(0.65, 0.10, 0.0, 1.5),
    "AO": Viseme(0.75, -0.20, 0.50, 2.0), "AW": Viseme(0.80, 0.00, 0.30, 2.0), "AY": Viseme(0.85, 0.20, 0.0, 2.0),
    "EH": Viseme(0.60, 0.40, 0.0, 1.5), "ER": Viseme(0.35, -0.10, 0.45, 1.5), "EY": Viseme(0.50, 0.50, 0.0, 1.5),
    "IH": Viseme(0.40, 0.45, 0.0, 1.2), "IY": Viseme(0.28, 0.70, 0.0, 1.5), "OW": Viseme(0.60, -0.30, 0.70, 2.0),
    "OY": Viseme(0.60, -0.20, 0.50, 2.0), "UH": Viseme(0.40, -0.30, 0.60, 1.5), "UW": Viseme(0.28, -0.50, 0.90, 2.0),
    # bilabials: lips closed, strongly
    "B": Viseme(0.0, 0.05, 0.0, 6.0), "P": Viseme(0.0, 0.05, 0.0, 6.0), "M": Viseme(0.0, 0.05, 0.0, 6.0),
    # labiodentals: lower lip to the upper teeth
    "F": Viseme(0.10, 0.20, 0.0, 3.0), "V": Viseme(0.10, 0.20, 0.0, 3.0),
    # rounded consonants
    "W": Viseme(0.15, -0.60, 0.90, 3.0), "SH": Viseme(0.22, -0.20, 0.60, 2.0), "ZH": Viseme(0.22, -0.20, 0.60, 2.0),
    "CH": Viseme(0.22, -0.20, 0.60, 2.0), "JH": Viseme(0.22, -0.20, 0.60, 2.0), "R": Viseme(0.25, -0.20, 0.50, 1.0),
    # sibilants: teeth close, lips spread
    "S": Viseme(0.15, 0.50, 0.0, 1.5), "Z": Viseme(0.15, 0.50, 0.0, 1.5),
    # tongue consonants: weak, borrow the neighbours' shape
    "TH": Viseme(0.22, 0.30, 0.0, 1.0), "DH": Viseme(0.22, 0.30, 0.0, 0.8), "T": Viseme(0.25, 0.30, 0.0, 0.5),
    "D": Viseme(0.25, 0.30, 0.0, 0.5), "N": Viseme(0.25, 0.30, 0.0, 0.5), "L": Viseme(0.30, 0.20, 0.0, 0.5),
    "K": Viseme(0.35, 0.20, 0.0, 0.5), "G": Viseme(0.35, 0.20, 0.0, 0.5), "NG": Viseme(0.30, 0.20, 0.0, 0.5),
    "HH": Viseme(0.45, 0.10, 0.0, 0.3), "Y": Viseme(0.28, 0.50, 0.0, 1.0),
    "SIL": SILENCE,
}


def viseme_for(phone: str) -> Viseme:
    """ARPAbet label (any case, stress digits allowed) -> its viseme; unknown labels -> silence."""
    return VISEMES.get(phone.upper().rstrip("012"), SILENCE)


def is_bilabial(phone: str) -> bool:
    return phone.upper().rstrip("012") in ("B", "P", "M")

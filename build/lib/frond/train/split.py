"""Which prepared clips train and which are held out: by speaker (the default) or in time.

- "speaker": whole speakers are held out: the round(holdout x speakers) speakers with the smallest
  hash of their id (`speakers.speaker_hash`; seed-free, and a speaker keeps its rank as others
  come and go). Ranking rather than a hash threshold hits the fraction on a small corpus too (on
  the 28 training speakers of the shared corpus a threshold of 0.2 picks one). With two or more
  speakers at least one is held out and at least one trains. A clip's speaker is the table's when
  one is given, else its meta.json's, else its name.
- "time": every clip trains on its first `1 - holdout` and is evaluated on the rest (the same
  speakers on both sides: only for a single long clip or a quick look).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import FrondInputError
from .data import PreparedClip
from .speakers import SpeakerTable, speaker_hash

SPLITS = ("speaker", "time")


@dataclass
class Split:
    """Training and held-out clips, and the time fraction the datasets hold out within a clip."""

    train: list[PreparedClip]  # clips to train on
    held_out: list[PreparedClip]  # clips to evaluate on
    train_holdout: float  # fraction at the end of each training clip not trained on (0 for "speaker")
    eval_holdout: float  # fraction at the end of each held-out clip evaluated (1 for "speaker": all of it)

    def speakers(self, table: SpeakerTable | None = None) -> tuple[set[str], set[str]]:
        """(training speakers, held-out speakers)."""
        return ({speaker_of(c, table) for c in self.train}, {speaker_of(c, table) for c in self.held_out})


def speaker_of(clip: PreparedClip, table: SpeakerTable | None = None) -> str:
    return table.speaker_of(clip.name) if table is not None else clip.speaker


def split_clips(clips: list[PreparedClip], holdout: float, mode: str = "speaker",
                table: SpeakerTable | None = None) -> Split:
    """clips -> Split; holdout is the fraction of speakers ("speaker") or of each clip ("time")."""
    if mode not in SPLITS:
        raise FrondInputError(f"--split must be one of {', '.join(SPLITS)}, got {mode!r}")
    if not 0 <= holdout < 1:
        raise FrondInputError(f"--holdout must be in [0, 1), got {holdout}")
    if mode == "time":
        return Split(clips, clips if holdout > 0 else [], holdout, holdout)
    ranked = sorted({speaker_of(c, table) for c in clips}, key=lambda s: (speaker_hash(s), s))
    n_held = min(max(1, round(holdout * len(ranked))), len(ranked) - 1) if holdout > 0 and len(ranked) > 1 else 0
    held = set(ranked[:n_held])
    train = [c for c in clips if speaker_of(c, table) not in held]
    return Split(train, [c for c in clips if speaker_of(c, table) in held], 0.0, 1.0)

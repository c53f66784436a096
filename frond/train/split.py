"""Which prepared clips train and which are held out: by speaker (the default) or in time.

- "speaker": whole speakers are held out, chosen by a hash of their id (`speakers.held_out_speaker`,
  stable as the corpus grows); with two or more speakers at least one is held out and at least
  one trains. A clip's speaker is the table's when one is given, else its meta.json's, else its name.
- "time": every clip trains on its first `1 - holdout` and is evaluated on the rest (the same
  speakers on both sides: only for a single long clip or a quick look).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import FrondInputError
from .data import PreparedClip
from .speakers import SpeakerTable, held_out_speaker, speaker_hash

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
    speakers = sorted({speaker_of(c, table) for c in clips})
    held = {s for s in speakers if held_out_speaker(s, holdout)}
    if holdout > 0 and len(speakers) > 1:
        ranked = sorted(speakers, key=speaker_hash)
        held = held or {ranked[0]}
        if held == set(speakers):
            held.discard(ranked[-1])
    train = [c for c in clips if speaker_of(c, table) not in held]
    return Split(train, [c for c in clips if speaker_of(c, table) in held], 0.0, 1.0)

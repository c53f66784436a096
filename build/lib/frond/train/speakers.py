"""Who speaks in each clip: the unit of every held-out split.

Frames of one speaker never sit on both sides of a split (a model that has heard a voice
and seen its mouth would look better than it is on a stranger). A speaker table is a CSV
with columns `clip,speaker[,note]` (clip = the video's file stem); clips it does not list
are their own speaker. `speakers.csv` beside this file lists the shared corpus
(`../shared/data/clips` and `train/`, see its PROVENANCE.md); a note that starts with
"audio probably not" marks a clip whose soundtrack is not the speaker's own voice, which
motion training and the folds leave out.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

SHARED_TABLE = Path(__file__).with_name("speakers.csv")


@dataclass(frozen=True)
class SpeakerTable:
    """clip stem -> speaker id, and the clips whose audio is not their speaker's voice."""

    speakers: dict[str, str]
    not_own_voice: frozenset[str] = frozenset()

    def speaker_of(self, clip: str) -> str:
        """A clip's speaker; an unlisted clip is its own speaker."""
        return self.speakers.get(clip, clip)

    def usable(self, clip: str) -> bool:
        """False for clips whose soundtrack is not the speaker's own voice."""
        return clip not in self.not_own_voice


def load_speakers(path: str | Path | None = None) -> SpeakerTable:
    """Read a `clip,speaker[,note]` CSV (default: the shared corpus's table)."""
    path = Path(path) if path is not None else SHARED_TABLE
    speakers: dict[str, str] = {}
    bad: set[str] = set()
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            clip = (row.get("clip") or "").strip()
            if not clip:
                continue
            speakers[clip] = (row.get("speaker") or clip).strip() or clip
            if (row.get("note") or "").strip().lower().startswith("audio probably not"):
                bad.add(clip)
    return SpeakerTable(speakers, frozenset(bad))


def speaker_hash(speaker: str, salt: str = "frond") -> float:
    """A stable number in [0, 1) per speaker id (blake2b), the basis of the hashed hold-out."""
    digest = hashlib.blake2b(f"{salt}:{speaker}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def speaker_folds(clips: list[str], table: SpeakerTable, k: int, weights: dict[str, float] | None = None) -> list[list[str]]:
    """Split clips into k speaker-disjoint folds of about equal weight (e.g. seconds).

    Speakers go, heaviest first, to the lightest fold so far (ties by fold index), so the
    split is deterministic. -> k lists of clip names (a fold may be empty when there are
    fewer speakers than folds).
    """
    if k < 2:
        raise ValueError(f"need at least 2 folds, got {k}")
    groups: dict[str, list[str]] = {}
    for clip in clips:
        groups.setdefault(table.speaker_of(clip), []).append(clip)
    weight = lambda name: (weights or {}).get(name, 1.0)  # noqa: E731
    order = sorted(groups, key=lambda s: (-sum(weight(c) for c in groups[s]), s))
    folds: list[list[str]] = [[] for _ in range(k)]
    load = [0.0] * k
    for speaker in order:
        i = min(range(k), key=lambda j: (load[j], j))
        folds[i] += sorted(groups[speaker])
        load[i] += sum(weight(c) for c in groups[speaker])
    return folds

"""The learning-rate schedule: linear warm-up, then a cosine decay to a floor, resumable.

factor(s) = min(1, (s + 1) / warmup) * (floor + (1 - floor) (1 + cos(pi s / total)) / 2),
s = optimiser steps done (the SGDR cosine of Loshchilov & Hutter 2017, eq. 5, one cycle,
with eta_min = floor). A resumed run with a larger `--steps` does not restart or jump:
`extend` keeps every step so far and re-stretches the rest of the cosine from the
current factor down to the floor at the new total.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass
class LRSchedule:
    """Multiplier of the base learning rate at each optimiser step."""

    total: int  # steps of the schedule (the run's --steps when it started)
    warmup: int  # linear warm-up steps
    floor: float = 0.1  # the factor reached at the end
    tail: list[float] = field(default_factory=list)  # after `extend`: [start step, factor there, new total]

    @classmethod
    def for_run(cls, steps: int) -> "LRSchedule":
        return cls(total=steps, warmup=min(50, max(1, steps // 10)))

    def _cosine(self, s: float, start: int, f0: float, end: int) -> float:
        t = min(max(s - start, 0), end - start) / max(end - start, 1)
        return self.floor + (f0 - self.floor) * (1 + math.cos(math.pi * t)) / 2

    def factor(self, step: int) -> float:
        """The multiplier for the optimiser step after `step` steps done."""
        if self.tail and step >= self.tail[0]:
            start, f0, end = self.tail
            return self._cosine(step, int(start), f0, int(end))
        return min(1.0, (step + 1) / self.warmup) * self._cosine(step, 0, 1.0, self.total)

    def extend(self, total: int, step: int) -> None:
        """Continue to `total` steps from `step` without a jump (no-op unless total grows)."""
        end = int(self.tail[2]) if self.tail else self.total
        if total > end:
            self.tail = [step, self.factor(step), total]

    def to_dict(self) -> dict:
        return asdict(self)

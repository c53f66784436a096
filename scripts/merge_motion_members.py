"""Merge motion stages trained apart into one ensemble: the same data and recipe, other `--seed`s.

Each run's networks become members of one motion stage (`MotionConfig.members`: the prediction is the
members' mean, in torch and in the numpy runtime alike). Everything the runs fit from the data rather
than learn (the articulation's PCA basis and mean, the head's units, spectrum and mixing) must be equal
across them, or the merge is refused. The first run's config (its calibration, its training record)
is kept, with the runs' names added to the record.

    frond train --data prepared --stage motion --out runs/motion_s1 --seed 1 ...   # beside runs/motion (seed 0)
    python scripts/merge_motion_members.py runs/motion runs/motion_s1 runs/motion_s2 --out runs/motion_ensemble
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import torch

from frond.weights.model import FrondModel

MEMBER = re.compile(r"^motion\.members\.(\d+)\.(.+)$")


def merge(runs: list[str | Path]) -> FrondModel:
    """Motion-stage folders -> one FrondModel whose motion stage has all their members, in order.

    Raises ValueError when a run lacks a trained motion stage or fitted its data differently."""
    models = [FrondModel.from_pretrained(str(r)) for r in runs]
    for run, model in zip(runs, models):
        if "motion" not in model.config.trained_stages:
            raise ValueError(f"{run} holds no trained motion stage")
    states = [m.state_dict() for m in models]
    shared = [k for k in states[0] if k.startswith("motion.") and not MEMBER.match(k)]
    for run, state in zip(runs[1:], states[1:]):
        for key in shared:
            if not torch.equal(states[0][key], state[key]):
                raise ValueError(f"{run} fitted {key} differently from {runs[0]}: not the same data or recipe")
    config = models[0].config.to_dict()
    config["motion"]["members"] = sum(m.config.motion.members for m in models)
    record = config.setdefault("training", {}).setdefault("motion", {})
    record["ensemble"] = (f"{len(runs)} runs of the same recipe with other seeds ({', '.join(map(str, runs))}), "
                          "merged by scripts/merge_motion_members.py")
    merged = FrondModel(config)
    state = {k: v for k, v in states[0].items() if not MEMBER.match(k)}
    offset = 0
    for model, run_state in zip(models, states):
        for key, value in run_state.items():
            if match := MEMBER.match(key):
                state[f"motion.members.{offset + int(match.group(1))}.{match.group(2)}"] = value
        offset += model.config.motion.members
    merged.load_state_dict(state, strict=False)
    missing = [k for k in merged.state_dict() if k.startswith("motion.") and k not in state]
    if missing:
        raise ValueError(f"the merged motion stage lacks {missing[:3]}")
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="motion-stage folders (config.json + model.safetensors)")
    parser.add_argument("--out", required=True, help="the ensemble's folder")
    args = parser.parse_args()
    model = merge(args.runs)
    model.save_pretrained(args.out)
    print(f"{args.out}: {model.config.motion.members} members "
          f"({json.dumps(model.config.training['motion'].get('ensemble'))})")


if __name__ == "__main__":
    main()

"""Speaker-disjoint folds of the motion stage at keypoint level: how the recipe and its inference-time
calibration are chosen (README, "Results").

Trains the motion stage once per fold on the other folds' speakers (kept in OUT/fold_<i>, reused on a
second run), then scores every held-out clip without rendering (`frond.train.heldout.evaluate_motion_stage`:
the driving mouth against the real landmarks, the head's spread against the real head's) under each
calibration of the grid, and prints the means over folds and clips.

    python scripts/motion_folds.py --data PREPARED --out runs/folds --steps 1500 \\
        --grid lead=0,0.04,0.08 gain=1.25,1.5 head_gain=0.6,0.8,1.0
    python scripts/motion_folds.py --data PREPARED --out runs/folds_sync --weights sync=0.5   # another recipe
    python scripts/motion_folds.py --data PREPARED --out runs/folds --apply lead=0.02 head_gain=1.1 yaw_gain=1.5 mouth_scale=1.25
    frond evaluate --folds 5 --data PREPARED --fold-models runs/folds --out folds/report.json   # rendered
"""
from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from frond.motion.learned import LearnedMotionEstimator, load_motion_net, motion_net
from frond.nn.config import FrondConfig, MotionConfig
from frond.train.data import load_prepared
from frond.train.heldout import FACE_MEASURES, evaluate_motion_stage
from frond.train.speakers import load_speakers, speaker_folds
from frond.train.trainer import TrainConfig, train
from frond.weights.model import FrondModel

MEASURES = ("open_r", "open_r_synced", "open_r_best", "lag", "amplitude_median", *FACE_MEASURES)


def grid(specs: list[str]) -> list[dict[str, Any]]:
    """["lead=0,0.04", "gain=1.25", "facing_slope=0.05:0:0.03:0.02:0.02"] -> every combination as {name: value}
    (a value with colons is one list: a per-axis calibration)."""
    def value(v: str) -> float | list[float]:
        return [float(x) for x in v.split(":")] if ":" in v else float(v)

    axes = [(name, [value(v) for v in values.split(",")]) for name, values in (s.split("=", 1) for s in specs)]
    return [dict(zip([a for a, _ in axes], combo)) for combo in itertools.product(*[v for _, v in axes])] or [{}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a `frond prepare` output folder")
    parser.add_argument("--out", default="runs/folds", help="where the fold models are kept")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", nargs="*", default=[], help="term=value ... motion loss weights changed from "
                                                               "the recipe's (e.g. sync=0.5)")
    parser.add_argument("--model", nargs="*", default=[], help="name=value ... a new fold model's motion config changed "
                                                             "from the default (e.g. hidden=128 dropout=0.2)")
    parser.add_argument("--window", type=int, default=TrainConfig.window, help="frames per training window")
    parser.add_argument("--grid", nargs="*", default=[], help="name=v1,v2 ... inference calibrations to score")
    parser.add_argument("--report", help="write every clip's scores as JSON here")
    parser.add_argument("--apply", nargs="*", default=[], help="name=value ... written into every fold model's config.json "
                                                             "(then `frond evaluate --folds K --fold-models OUT` renders them)")
    args = parser.parse_args()

    clips = {c.name: c for c in load_prepared(args.data)}
    table = load_speakers()
    names = [n for n in clips if table.usable(n)]
    folds = [f for f in speaker_folds(names, table, args.folds) if f]
    models = []
    for i, held in enumerate(folds):
        folder = Path(args.out) / f"fold_{i}"
        if not _trained(folder):
            print(f"fold {i + 1}/{len(folds)}: training on {len(names) - len(held)} clips", flush=True)
            if args.model:  # a new model of another shape: `train` continues from it (its bases are fitted there)
                motion = MotionConfig(**{k: type(getattr(MotionConfig(), k))(v) for k, v in grid(args.model)[0].items()})
                FrondModel(FrondConfig(motion=motion)).save_pretrained(str(folder))
            weights = {**TrainConfig(data=args.data, stage="motion").motion_weights, **grid(args.weights)[0]}
            train(TrainConfig(data=args.data, stage="motion", out=str(folder), steps=args.steps, seed=args.seed,
                              motion_weights=weights, window=args.window, speakers="shared",
                              clips=tuple(n for n in names if n not in held), eval_names=tuple(held),
                              progress=False, sample_every=0, checkpoint_every=0))
        if args.apply:
            config = json.loads((folder / "config.json").read_text())
            config["motion"].update(grid(args.apply)[0])
            (folder / "config.json").write_text(json.dumps(config, indent=2))
        models.append((held, load_motion_net(folder)))
    report = []
    for calibration in grid(args.grid):
        per_fold, every = [], {}
        for held, net in models:
            stage = LearnedMotionEstimator(motion_net(net.tensors, {**_config(net), **calibration}), "fold")
            result = evaluate_motion_stage(stage, [clips[n] for n in held], seed=args.seed)
            per_fold.append(result)
            every.update(result["clips"])
        means = {m: float(np.nanmean([f.get(m, np.nan) for f in per_fold])) for m in MEASURES}
        clip_level = {m: float(np.nanmedian([r.get(m, np.nan) for r in every.values()])) for m in MEASURES}
        for m in ("open_r", "open_r_synced"):
            clip_level[m] = float(np.mean([r[m] for r in every.values()]))
        clip_level["lag"] = float(np.mean([r["lag"] for r in every.values()]))
        print(json.dumps(calibration), "| folds:", " ".join(f"{m} {means[m]:.3f}" for m in MEASURES),
              "| clips:", " ".join(f"{m} {clip_level[m]:.3f}" for m in MEASURES), flush=True)
        report.append({"calibration": calibration, "folds": means, "clips": clip_level, "per_clip": every})
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1))


def _trained(folder: Path) -> bool:
    """Whether `folder` holds a fold model whose motion stage was trained (not only created with `--model`)."""
    config = folder / "config.json"
    return (folder / "model.safetensors").is_file() and config.is_file() \
        and "motion" in json.loads(config.read_text()).get("trained_stages", [])


def _config(net) -> dict:
    """A MotionNet's calibration as config keys (what `motion_net` reads)."""
    fields = asdict(net)
    fields.pop("tensors")
    fields["phone_features"] = fields.pop("phone_kind")
    return fields


if __name__ == "__main__":
    main()

"""Speaker-disjoint cross-validation of the motion stage (`python -m frond evaluate --folds K`).

The prepared clips' speakers are dealt into K folds (`speakers.speaker_folds`). For each
fold in turn, the motion stage is trained on the other folds' clips only, then every
held-out clip is self-reconstructed twice through the whole pipeline (its first frame as
the portrait, its own audio as the driver): with the fold's learned motion and with the
training-free prior. Landmarks re-detected on the rendered frames are compared with the
real video (`frond.evaluate.clip.evaluate_clip`): the mouth-opening correlation at lag 0 (what
a viewer sees), the same against the recording aligned by its own audio/video offset (the corpus's
sources disagree by up to 4 frames; training aligns them the same way: `PreparedClip.sync_shift`),
at the best lag with that lag, and the amplitude ratio.

Nothing of a held-out speaker is seen in training, so the fold means estimate what a new
user's portrait and voice get.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import FrondInputError
from ..train.data import load_prepared
from ..train.speakers import load_speakers, speaker_folds
from .report import num

MEASURES = (("mouth_corr", "r lag 0", "{:.3f}"), ("mouth_corr_synced", "r lag 0 synced", "{:.3f}"),
            ("mouth_corr_best", "best r", "{:.3f}"),
            ("mouth_lag", "lag", "{:+.1f}"), ("amplitude_ratio", "amp", "{:.2f}"), ("render_fidelity", "render r", "{:.2f}"),
            ("head_roll", "roll", "{:.2f}"), ("head_shift", "shift", "{:.2f}"), ("head_yaw", "yaw", "{:.2f}"),
            ("brows", "brows", "{:.2f}"))
PATHS = ("learned", "prior")


def run_folds(data: str | Path, k: int, out: str | Path, steps: int = 1500, size: int = 256,
              speakers: str | Path | None = None, backend: str = "auto", max_seconds: float | None = None,
              seed: int = 0, log: Callable[[str], None] = lambda message: None,
              models: str | Path | None = None) -> dict[str, Any]:
    """Train and evaluate fold by fold; write the JSON report to `out` and return it.

    `models`: a folder keeping each fold's motion stage (`fold_<i>`): one found there is used as it is (its
    config.json's calibration included), one missing is trained there; None: trained in a temporary folder."""
    from ..face.landmarks import resolve_backend
    from ..pipeline import FrondPipeline
    from ..train.trainer import TrainConfig, train
    from .clip import ClipSkipped, evaluate_clip
    from .report import jsonable, row_name

    if k < 2:
        raise FrondInputError(f"--folds needs at least 2 folds, got {k}")
    clips = load_prepared(data)
    table = load_speakers(speakers)
    names = [c.name for c in clips if table.usable(c.name)]
    videos = {c.name: Path(c.meta.get("video", "")) for c in clips}
    shifts = {c.name: c.sync_shift for c in clips}  # each recording's own audio/video offset, as training aligns it
    folds = [f for f in speaker_folds(names, table, k) if f]
    backend = resolve_backend(backend)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"data": str(data), "k": len(folds), "steps": steps, "size": size, "landmarks": backend,
                              "left_out": sorted(set(c.name for c in clips) - set(names)), "folds": []}
    started = time.perf_counter()
    for index, held in enumerate(folds):
        log(f"fold {index + 1}/{len(folds)}: held out {', '.join(held)}")
        with tempfile.TemporaryDirectory(prefix="frond-fold-") as tmp:
            model_dir = Path(models) / f"fold_{index}" if models is not None else Path(tmp) / "model"
            summary: dict[str, Any] = {}
            if not (model_dir / "model.safetensors").is_file():
                summary = train(TrainConfig(data=str(data), stage="motion", out=str(model_dir), steps=steps, seed=seed,
                                            speakers=str(speakers) if speakers else "shared",
                                            clips=tuple(n for n in names if n not in held), eval_names=tuple(held),
                                            progress=False, sample_every=0, checkpoint_every=0))
            pipe = FrondPipeline(weights=str(model_dir), landmarks=backend)
            rows: dict[str, dict[str, dict[str, float]]] = {}
            for name in held:
                if not videos[name].is_file():
                    log(f"  {name}: its video {videos[name]} is gone; skipped")
                    continue
                try:
                    clip = evaluate_clip(pipe, videos[name], Path(tmp), size=size, backend=backend,
                                         max_seconds=max_seconds, motions=PATHS, sync_shift=shifts[name])
                except (ClipSkipped, FrondInputError) as exc:
                    log(f"  {name}: skipped ({exc})")
                    continue
                rows[name] = {p: {m: clip["rows"][row_name(p)].get(m, float("nan")) for m, _, _ in MEASURES} for p in PATHS}
                log(f"  {name}: " + "; ".join(f"{p} r {rows[name][p]['mouth_corr']:.3f}" for p in PATHS))
        report["folds"].append({"fold": index, "clips": rows, "mean": _means(rows),
                                "speakers": sorted({table.speaker_of(n) for n in held}),
                                "keypoint_level": summary.get("heldout_after")})
    per_fold = {p: {m: float(np.nanmean([f["mean"][p][m] for f in report["folds"]])) for m, _, _ in MEASURES} for p in PATHS}
    every = {name: row for f in report["folds"] for name, row in f["clips"].items()}
    report["mean_over_folds"] = per_fold
    report["mean_over_clips"] = _means(every)
    report["seconds"] = round(time.perf_counter() - started, 1)
    out.write_text(json.dumps(jsonable(report), indent=1) + "\n")
    return report


def _means(rows: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {p: {m: float(np.nanmean([r[p][m] for r in rows.values()])) if rows else float("nan") for m, _, _ in MEASURES}
            for p in PATHS}


def format_folds(report: dict[str, Any]) -> str:
    """The fold-by-fold table: per clip and per fold, learned against prior."""
    head = ["fold", "clip"] + [f"{p} {h}" for p in PATHS for _, h, _ in MEASURES]
    lines = [head]

    def cells(label: str, name: str, row: dict[str, dict[str, float]]) -> list[str]:
        return [label, name] + [f.format(row[p][m]) if np.isfinite(row[p][m]) else "-" for p in PATHS for m, _, f in MEASURES]

    for fold in report["folds"]:
        for name, row in fold["clips"].items():
            lines.append(cells(str(fold["fold"] + 1), name, row))
        lines.append(cells(str(fold["fold"] + 1), "fold mean", fold["mean"]))
    lines.append(cells("all", "mean over folds", report["mean_over_folds"]))
    lines.append(cells("all", "mean over clips", report["mean_over_clips"]))
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    text = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    if report.get("left_out"):
        text.append(f"left out (audio not the speaker's own): {', '.join(report['left_out'])}")
    return "\n".join(text)


def folds_markdown(report: dict[str, Any]) -> str:
    """The folds as Markdown: per fold, then the mean and the median over clips (learned against prior), and
    every clip with its fold (README.md and docs/folds_per_clip.md are made from it)."""
    every = {name: (fold["fold"] + 1, row) for fold in report["folds"] for name, row in fold["clips"].items()}

    def cells(row: dict[str, dict[str, float]]) -> str:
        def value(p: str, m: str, spec: str) -> str:
            v = row[p].get(m)
            return spec.format(v) if v is not None and np.isfinite(v) else "-"
        return " | ".join(value(p, m, f) for p in PATHS for m, _, f in MEASURES)

    header = "| | " + " | ".join(f"{p}: {h}" for p in PATHS for _, h, _ in MEASURES) + " |"
    rule = "|---" * (1 + len(PATHS) * len(MEASURES)) + "|"
    medians = {p: {m: float(np.nanmedian([num(r[p].get(m)) for _, r in every.values()])) for m, _, _ in MEASURES}
               for p in PATHS}
    lines = [header, rule]
    lines += [f"| fold {f['fold'] + 1} ({len(f['clips'])} clips) | {cells(f['mean'])} |" for f in report["folds"]]
    lines += [f"| **mean over folds** | {cells(report['mean_over_folds'])} |",
              f"| mean over clips | {cells(report['mean_over_clips'])} |", f"| median over clips | {cells(medians)} |",
              "", "| clip (fold) | " + header[4:], rule]
    lines += [f"| {name} ({fold}) | {cells(row)} |" for name, (fold, row) in sorted(every.items(), key=lambda x: (x[1][0], x[0]))]
    return "\n".join(lines) + "\n"

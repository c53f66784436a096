"""A folder of real clips, each self-reconstructed and measured (`frond.evaluate.clip`), into one report."""
from __future__ import annotations

import json
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from .clip import VIDEO_SUFFIXES, ClipSkipped, evaluate_clip, find_clips
from .reenact import reenact_clip
from .report import GENERATED, columns_of, fmt, jsonable, mean_rows, plot_clip, row_order


def evaluate_folder(
    clips_dir: str | Path,
    out: str | Path,
    size: int = 256,
    weights: str | None = None,
    baselines: bool = False,
    backend: str = "auto",
    max_seconds: float | None = None,
    keep_videos: bool = False,
    plots: bool = True,
    motions: tuple[str, ...] = ("learned",),
    reenact: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Evaluate every clip in `clips_dir`; write the JSON report (and plots) and return it.

    `reenact`: instead of self-reconstruction from the audio, each clip reenacted from its first frame by
    itself, in the whole picture (`frond.evaluate.reenact`; `motions` and `baselines` do not apply, the still
    first frame is always measured).

    The returned report keeps +inf (identical frames' PSNR) and NaN as floats; the JSON
    file has them as null.
    """
    from ..errors import FrondInputError
    from ..face.landmarks import resolve_backend
    from ..pipeline import FrondPipeline

    clips_dir, out = Path(clips_dir), Path(out)
    if not clips_dir.is_dir():
        raise FrondInputError(f"--clips {clips_dir} is not a folder. Give a folder of talking-face videos (MP4 with audio).")
    paths = find_clips(clips_dir)
    if not paths:
        raise FrondInputError(f"No videos ({', '.join(VIDEO_SUFFIXES)}) in {clips_dir}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    backend_name = resolve_backend(backend)

    started = time.perf_counter()
    pipe = FrondPipeline(weights=weights, landmarks=backend_name)
    report: dict[str, Any] = {
        "clips_dir": str(clips_dir),
        "motions": list(motions),
        "size": size,
        "weights": weights,
        "landmarks": backend_name,
        "baselines": baselines,
        "reenact": reenact,
        "max_seconds": max_seconds,
        "modes": dict(pipe.modes),
        "stage_weights": dict(pipe.stage_weights),
        "notices": list(pipe.notices),
        "clips": [],
        "skipped": [],
        "failed": [],
    }
    with tempfile.TemporaryDirectory(prefix="frond-eval-") as tmp:
        work = out.parent / f"{out.stem}_videos" if keep_videos else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for index, path in enumerate(paths, 1):
            log(f"[{index}/{len(paths)}] {path.name}")
            try:
                if reenact:
                    clip = reenact_clip(pipe, path, work, size=size, backend=backend_name, max_seconds=max_seconds)
                else:
                    clip = evaluate_clip(pipe, path, work, size=size, backend=backend_name,
                                         baselines=baselines, max_seconds=max_seconds, motions=motions)
            except (ClipSkipped, FrondInputError) as exc:
                log(f"  skipped: {exc}")
                report["skipped"].append({"clip": path.name, "reason": str(exc)})
                continue
            except Exception as exc:  # a bug in a stage: report it, measure the rest
                log(f"  FAILED: {type(exc).__name__}: {exc}")
                report["failed"].append({"clip": path.name, "error": f"{type(exc).__name__}: {exc}",
                                         "traceback": traceback.format_exc(limit=6)})
                continue
            report["modes"] = clip.pop("modes")
            if plots and not reenact:
                plot_path = out.parent / f"{out.stem}_{path.stem}.png"
                plot_clip(clip, plot_path)
                clip["plot"] = plot_path.name
            for kind in row_order(clip["rows"]):
                if kind.startswith(GENERATED):
                    log(f"  {kind}: " + ", ".join(f"{h} {fmt(clip['rows'][kind].get(k), f)}"
                                                  for k, h, f in columns_of(report)[:4]))
            report["clips"].append(clip)
    report["mean"] = mean_rows(report["clips"])
    report["seconds"] = round(time.perf_counter() - started, 1)
    out.write_text(json.dumps(jsonable(report), indent=1) + "\n")
    return report

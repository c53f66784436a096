"""`python -m frond evaluate`: self-reconstruction on real talking clips.

For every video in a folder: the first frame is the portrait, the clip's own audio is
the driver; the current pipeline generates a video, and it is compared with the real
frames (docs/DESIGN.md, "Measures of quality"). Both videos are seen through the same crop:
each real frame is warped with the portrait's alignment transform, so the generated
crop and the real crop show the same pixels where nothing moved. Landmarks are
re-detected on both crops by the same backend; the measures are in `frond.metrics`.

With `--baselines` two reference rows come from the same run: the still portrait
repeated (the floor) and the real video itself (the ceiling).

Output: a table on stdout, the report as JSON (`--out`), and one plot per clip beside it
(mouth opening over time, generated vs real, and the speech envelope).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import metrics
from .config import LANDMARK_BACKENDS

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
GENERATED, FLOOR, CEILING = "generated", "still portrait", "real video"

# (key in the metrics dict, table header, format) in the order they are shown
COLUMNS: list[tuple[str, str, str]] = [
    ("mouth_corr", "mouth r", "{:.3f}"),
    ("mouth_corr_best", "best r", "{:.3f}"),
    ("mouth_lag", "at lag", "{:+.1f}"),
    ("amplitude_ratio", "amp", "{:.2f}"),
    ("audio_mouth_corr", "AV r", "{:.3f}"),
    ("audio_mouth_lag", "lag", "{:+.0f}"),
    ("lmd_mouth", "LMD mouth", "{:.4f}"),
    ("lmd_mouth_shape", "LMD m-shape", "{:.4f}"),
    ("lmd_face", "LMD face", "{:.4f}"),
    ("psnr", "PSNR", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("sharpness", "sharp", "{:.2f}"),
    ("jitter", "jitter", "{:.5f}"),
    ("face_rate", "faces", "{:.2f}"),
    ("render_fidelity", "render r", "{:.3f}"),
    ("closed_opening", "closed", "{:.3f}"),
    ("closed_real", "closed real", "{:.3f}"),
]
MARKDOWN_HEADERS = {
    "mouth_corr": "mouth-opening r at lag 0 ↑",
    "mouth_corr_best": "r at best lag ↑",
    "mouth_lag": "best lag (frames)",
    "amplitude_ratio": "amplitude ratio (→1)",
    "audio_mouth_corr": "audio-mouth r (→real)",
    "lmd_mouth": "LMD mouth ↓",
    "lmd_mouth_shape": "LMD mouth shape ↓",
    "lmd_face": "LMD face ↓",
    "psnr": "PSNR (dB) ↑",
    "ssim": "SSIM ↑",
    "sharpness": "sharpness (→1)",
    "jitter": "jitter ↓",
    "render_fidelity": "render fidelity ↑",
    "closed_opening": "closed: re-detected opening ↓",
    "closed_real": "closed: real video's",
}


class ClipSkipped(Exception):
    """A clip that cannot be used (no face, no audio, ...); the message is the reason."""


# ---------------------------------------------------------------- command line


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `evaluate` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "evaluate",
        help="measure the pipeline by self-reconstruction of real talking clips",
        description=(
            "Self-reconstruction: for every video in --clips, its first frame is the portrait and its "
            "own audio the driver; the generated video is compared with the real one (mouth-opening "
            "correlation, amplitude, audio-mouth sync, landmark distance, PSNR/SSIM, sharpness, jitter)."
        ),
    )
    parser.add_argument("--clips", type=Path, help="folder of talking-face videos with their own speech")
    parser.add_argument("--out", type=Path, default=Path("report.json"), help="the JSON report; plots go beside it")
    parser.add_argument("--size", type=int, default=256, choices=(256, 512), help="side of the aligned face crop")
    parser.add_argument("--weights", default=None, help="Hub id[@revision] or local folder of learned weights (default: the bundled stages)")
    parser.add_argument("--motion", default="learned", choices=("learned", "prior", "both"),
                        help="motion path(s) to generate with (default learned; both: one row each)")
    parser.add_argument("--folds", type=int, default=0, metavar="K",
                        help="speaker-disjoint cross-validation of the motion stage: train on K-1 folds of --data's "
                             "speakers, evaluate learned against prior on the held-out fold's videos, rotate")
    parser.add_argument("--data", type=Path, help="--folds: a `prepare` output folder (its meta.json names each video)")
    parser.add_argument("--speakers", type=Path, help="--folds: clip,speaker CSV (default: the shared corpus's table)")
    parser.add_argument("--steps", type=int, default=1500, help="--folds: motion training steps per fold")
    parser.add_argument("--baselines", action="store_true", help="add the still portrait (floor) and the real video (ceiling) rows")
    parser.add_argument("--landmarks", default="auto", choices=LANDMARK_BACKENDS, help="landmark backend used to measure both videos")
    parser.add_argument("--max-seconds", type=float, default=None, help="use only the first N seconds of each clip (quick runs)")
    parser.add_argument("--keep-videos", action="store_true", help="keep the generated videos beside the report")
    parser.add_argument("--no-plots", action="store_true", help="skip the per-clip plots")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Entry point of `python -m frond evaluate`; returns the exit status."""
    from .errors import FrondInputError

    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    if args.folds:
        from .train.folds import format_folds, run_folds

        if args.data is None:
            print("error: --folds needs --data, a `python -m frond prepare` output folder", file=sys.stderr)
            return 2
        try:
            report = run_folds(args.data, args.folds, args.out, steps=args.steps, size=args.size,
                               speakers=args.speakers, backend=args.landmarks, max_seconds=args.max_seconds, log=log)
        except FrondInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(format_folds(report))
        print(f"\nreport: {args.out}")
        return 0
    if args.clips is None:
        print("error: give --clips DIR (videos to evaluate), or --folds K with --data", file=sys.stderr)
        return 2
    try:
        report = evaluate_folder(
            args.clips,
            args.out,
            size=args.size,
            weights=args.weights,
            baselines=args.baselines,
            backend=args.landmarks,
            max_seconds=args.max_seconds,
            keep_videos=args.keep_videos,
            plots=not args.no_plots,
            motions=("learned", "prior") if args.motion == "both" else (args.motion,),
            log=log,
        )
    except FrondInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(report))
    print(f"\nreport: {args.out}")
    if report["failed"]:
        return 1
    return 0 if report["clips"] else 1


# ---------------------------------------------------------------- the evaluation


def find_clips(folder: Path) -> list[Path]:
    """The video files directly in `folder`, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


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
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Evaluate every clip in `clips_dir`; write the JSON report (and plots) and return it.

    The returned report keeps +inf (identical frames' PSNR) and NaN as floats; the JSON
    file has them as null.
    """
    from .errors import FrondInputError
    from .face.landmarks import resolve_backend
    from .pipeline import FrondPipeline

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
            if plots:
                plot_path = out.parent / f"{out.stem}_{path.stem}.png"
                plot_clip(clip, plot_path)
                clip["plot"] = plot_path.name
            for kind in _row_order(clip["rows"]):
                if kind.startswith(GENERATED):
                    log(f"  {kind}: " + ", ".join(f"{h} {_fmt(clip['rows'][kind].get(k), f)}" for k, h, f in COLUMNS[:4]))
            report["clips"].append(clip)
    report["mean"] = mean_rows(report["clips"])
    report["seconds"] = round(time.perf_counter() - started, 1)
    out.write_text(json.dumps(_jsonable(report), indent=1) + "\n")
    return report


def evaluate_clip(
    pipe: Any,
    path: Path,
    work: Path,
    size: int = 256,
    backend: str = "mediapipe",
    baselines: bool = False,
    max_seconds: float | None = None,
    motions: tuple[str, ...] = ("learned",),
) -> dict[str, Any]:
    """Self-reconstruct one clip and measure it. Raises ClipSkipped when it cannot be used.

    `motions`: the motion paths to generate with ("learned", "prior"); one gives the row
    GENERATED, several give one row each, named `row_name(motion)`.
    """
    import av
    from scipy.io import wavfile

    from .audio.features import speech_envelope
    from .config import GenerationSettings
    from .face.align import warp_to_crop
    from .face.landmarks import detect_faces
    from .media import load_audio, probe_video, read_video_frames

    timings: dict[str, float] = {}
    tick = time.perf_counter()
    try:
        info = probe_video(path)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise ClipSkipped(f"not a readable video ({type(exc).__name__})") from None
    if info.get("video_codec") is None:
        raise ClipSkipped("no video stream")
    if info.get("audio_codec") is None:
        raise ClipSkipped("no audio track")
    fps = info.get("fps")
    if not fps or not 1.0 <= float(fps) <= 60.0:
        raise ClipSkipped(f"frame rate {fps} is outside 1..60 fps")
    fps = float(fps)
    frames_iter = read_video_frames(path)
    first = next(frames_iter, None)
    frames_iter.close()
    if first is None:
        raise ClipSkipped("no decodable video frame")
    faces = detect_faces(first, backend=backend)
    if not faces:
        raise ClipSkipped("no face in the first frame")

    audio = load_audio(path)  # FrondInputError (too short, corrupt) -> skipped by the caller
    samples = audio.samples
    if max_seconds is not None:
        samples = samples[: int(round(max_seconds * audio.sample_rate))]
    if np.sqrt(np.mean(samples.astype(np.float64) ** 2)) < 1e-4:
        raise ClipSkipped("the audio track is silent")
    wav = work / f"{path.stem}.wav"
    wavfile.write(wav, audio.sample_rate, (np.clip(samples, -1, 1) * 32767).astype(np.int16))
    timings["read"] = time.perf_counter() - tick

    names = {m: GENERATED if len(motions) == 1 else row_name(m) for m in motions}
    generated_by: dict[str, np.ndarray] = {}
    results: dict[str, Any] = {}
    for motion in motions:
        tick = time.perf_counter()
        result = pipe.generate(portrait=first, audio=wav, out_path=work / f"{path.stem}.{motion}.mp4",
                               settings=GenerationSettings(size=size, fps=fps, motion=motion))
        timings[f"generate {motion}"] = time.perf_counter() - tick
        generated = [f for f in read_video_frames(result.video_path)]
        if generated and generated[0].shape[:2] != (size, size):
            raise ClipSkipped(f"the generated video is {generated[0].shape[1]}x{generated[0].shape[0]}, not the {size}px crop")
        generated_by[motion] = np.stack(generated)
        results[motion] = result

    tick = time.perf_counter()
    # the portrait's crop transform, in the pixels of the original frame
    matrix = np.asarray(result.aligned.crop_from_image, dtype=np.float64)
    ph, pw = result.aligned.portrait.shape[:2]
    if (ph, pw) != first.shape[:2]:  # the pipeline downscaled the portrait
        matrix = matrix @ np.diag([pw / first.shape[1], ph / first.shape[0], 1.0])
    portrait = result.aligned.image
    n_real_max = int(info.get("frames") or 0) or None
    limit = min(len(g) for g in generated_by.values())
    if max_seconds is not None:
        limit = min(limit, int(math.floor(max_seconds * fps + 1e-6)))
    real: list[np.ndarray] = []
    frames_iter = read_video_frames(path)
    for frame in frames_iter:
        if len(real) >= limit:
            break
        real.append(warp_to_crop(frame, matrix, size))
    frames_iter.close()
    n = min(len(real), limit)
    if n < 3:
        raise ClipSkipped(f"only {n} frames to compare")
    real_frames = np.stack(real[:n])
    del real
    timings["decode"] = time.perf_counter() - tick

    tick = time.perf_counter()
    real_lms = detect_sequence(real_frames, backend)
    gen_lms = {m: detect_sequence(g[:n], backend) for m, g in generated_by.items()}
    portrait_found = detect_faces(portrait, backend=backend)
    portrait_lms = portrait_found[0].landmarks.astype(np.float64) if portrait_found else np.full((68, 2), np.nan)
    timings["landmarks"] = time.perf_counter() - tick

    times = np.arange(n) / fps  # presentation times
    envelope = np.asarray(speech_envelope(samples, audio.sample_rate, times), dtype=np.float64)

    tick = time.perf_counter()
    rows = {names[m]: metrics.compare(gen_lms[m], real_lms, envelope, generated_by[m][:n], real_frames, portrait)
            for m in motions}
    real_opening = metrics.mouth_opening(real_lms)
    closed_real = metrics.closed_level(real_opening)
    seen_by = {m: metrics.mouth_opening(gen_lms[m]) for m in motions}  # re-detected opening
    driving_by = {m: _driving_opening(results[m].motion.keypoints[:n]) for m in motions}  # what the motion asked for
    for m in motions:  # does the renderer show the motion it is given: re-detected opening vs the driving keypoints'
        driving, seen = driving_by[m], seen_by[m]
        fits = driving.size == n
        rows[names[m]]["render_fidelity"] = metrics.pearson(seen, driving) if fits else math.nan
        # closed lips read as closed: where the motion asks for them, against the real speaker's own closed mouth
        rows[names[m]]["closed_opening"] = metrics.closed_opening(seen, driving) if fits else math.nan
        rows[names[m]]["closed_real"] = closed_real
    still_lms = np.repeat(portrait_lms[None], n, axis=0)
    if baselines:
        still_frames = np.broadcast_to(portrait, real_frames.shape)
        rows[FLOOR] = metrics.compare(still_lms, real_lms, envelope, still_frames, real_frames, portrait)
        rows[CEILING] = metrics.compare(real_lms, real_lms, envelope, real_frames, real_frames, portrait)
    timings["measure"] = time.perf_counter() - tick

    first_motion = motions[0]
    return {
        "clip": path.name,
        "fps": fps,
        "frames": n,
        "frames_in_clip": n_real_max,
        "seconds": round(n / fps, 3),
        "rows": rows,
        "series": {
            "times": times,
            "mouth_real": real_opening,
            "mouth_generated": seen_by[first_motion],
            "mouth_portrait": float(metrics.mouth_opening(portrait_lms)[0]),
            "envelope": envelope,
            "mouth_driving": driving_by[first_motion],
        },
        "modes": dict(results[first_motion].modes),
        "stage_weights": dict(results[first_motion].stage_weights),
        "timings": {k: round(v, 2) for k, v in timings.items()},
    }


def row_name(motion: str) -> str:
    """The row of a generated video when several motion paths are compared."""
    return f"{GENERATED} ({motion})"


def detect_sequence(frames: np.ndarray, backend: str) -> np.ndarray:
    """Landmarks of the largest face in each frame: (T, H, W, 3) -> (T, 68, 2), NaN where none."""
    from .face.landmarks import detect_faces

    out = np.full((len(frames), 68, 2), np.nan)
    for t, frame in enumerate(frames):
        found = detect_faces(np.ascontiguousarray(frame), backend=backend)
        if found:
            out[t] = found[0].landmarks
    return out


def _driving_opening(keypoints: np.ndarray) -> np.ndarray:
    """The mouth opening the motion stage asked for (from its keypoints, not re-detected)."""
    try:
        return metrics.mouth_opening(np.asarray(keypoints, dtype=np.float64))
    except ValueError:
        return np.zeros(0)


def mean_rows(clips: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per row kind (generated / floor / ceiling): each measure averaged over the clips."""
    kinds: list[str] = []
    for clip in clips:
        kinds += [k for k in clip["rows"] if k not in kinds]
    means: dict[str, dict[str, float]] = {}
    for kind in kinds:
        rows = [clip["rows"][kind] for clip in clips if kind in clip["rows"]]
        keys = [k for k in rows[0] if k == "mouth_lag" or not k.endswith(("_lag", "_lag_real"))]
        means[kind] = {}
        for key in keys:
            values = np.array([_num(row.get(key)) for row in rows], dtype=np.float64)
            if np.isposinf(values).all():
                means[kind][key] = math.inf
            else:
                finite = values[np.isfinite(values)]
                means[kind][key] = float(finite.mean()) if finite.size else math.nan
        means[kind]["clips"] = len(rows)
    return means


# ---------------------------------------------------------------- presentation


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return spec.format(value)


def _row_order(rows: dict[str, Any]) -> list[str]:
    order = [FLOOR, GENERATED, row_name("learned"), row_name("prior"), CEILING]
    return [k for k in order if k in rows] + [k for k in rows if k not in order]


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table: one row per clip and kind, then the means."""
    headers = ["clip", "video"] + [h for _, h, _ in COLUMNS] + ["AV r real", "jitter real"]
    lines: list[list[str]] = []

    def add(clip_name: str, kind: str, row: dict[str, Any]) -> None:
        cells = [clip_name, kind] + [_fmt(row.get(k), f) for k, _, f in COLUMNS]
        cells += [_fmt(row.get("audio_mouth_corr_real"), "{:.3f}"), _fmt(row.get("jitter_real"), "{:.5f}")]
        lines.append(cells)

    for clip in report["clips"]:
        for kind in _row_order(clip["rows"]):
            add(clip["clip"], kind, clip["rows"][kind])
    for kind in _row_order(report.get("mean", {})):
        add("MEAN", kind, report["mean"][kind])
    widths = [max(len(h), *(len(r[i]) for r in lines)) if lines else len(h) for i, h in enumerate(headers)]
    text = ["  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths)))]
    text.append("  ".join("-" * w for w in widths))
    for r in lines:
        text.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    modes = report.get("modes") or {}
    if modes:
        text.append("stages: " + ", ".join(f"{k}: {v}" for k, v in modes.items()))
    for notice in report.get("notices", []):
        text.append(f"note: {notice}")
    for skip in report.get("skipped", []):
        text.append(f"skipped {skip['clip']}: {skip['reason']}")
    for fail in report.get("failed", []):
        text.append(f"FAILED {fail['clip']}: {fail['error']}")
    return "\n".join(text)


def results_markdown(report: dict[str, Any]) -> str:
    """A README-ready markdown table: the means over the clips for the floor (still
    portrait), FROND and the ceiling (real video), then FROND per clip.

    Accepts the report as returned by `evaluate_folder` or as read back from its JSON.
    """
    keys = list(MARKDOWN_HEADERS)
    specs = {k: f for k, _, f in COLUMNS}
    modes = report.get("modes") or {}
    stage_weights = report.get("stage_weights")
    if stage_weights is not None:
        learned = any(w is not None for w in stage_weights.values())
    else:  # a report written before it recorded the stages' weights
        learned = any(str(v).startswith("learned") for v in modes.values())
    names = {FLOOR: "still portrait (floor)", GENERATED: "FROND (" + ("learned" if learned else "training-free prior") + ")",
             CEILING: "real video (ceiling)", row_name("learned"): "FROND (learned motion)",
             row_name("prior"): "FROND (training-free prior motion)"}
    n_clips = len(report.get("clips", []))

    def table(first: str, rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
        out = [f"| {first} | " + " | ".join(MARKDOWN_HEADERS[k] for k in keys) + " |",
               "|" + "---|" * (len(keys) + 1)]
        for name, row in rows:
            cells = [_fmt(_maybe(row.get(k)), specs[k]).replace("inf", "∞") for k in keys]
            if name == names[CEILING] and row.get("psnr") is None:  # identical frames: +inf, null in JSON
                cells[keys.index("psnr")] = "∞"
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        return out

    mean = report.get("mean", {})
    lines = [f"Self-reconstruction on {n_clips} clip{'s' if n_clips != 1 else ''} "
             f"({report.get('size', 256)}px crop, landmarks: {report.get('landmarks', '?')}); mean over clips.", ""]
    lines += table("video", [(names.get(k, k), mean[k]) for k in _row_order(mean)])
    for kind in [k for k in _row_order(mean) if k.startswith(GENERATED)] if report.get("clips") else []:
        lines += ["", ""]
        lines += table(f"clip ({names.get(kind, kind)})", [(c["clip"], c["rows"][kind]) for c in report["clips"] if kind in c["rows"]])
    audio_real = next((mean[k].get("audio_mouth_corr_real") for k in mean if k.startswith(GENERATED)), None)
    notes = ["", "mouth-opening r: Pearson correlation of the re-detected inner-lip gap with the real video's; "
             "amplitude ratio: its std over the real one's; audio-mouth r: best correlation with the speech-band "
             "envelope within ±2 frames, to be read against the real clips'" + (f" ({_fmt(_maybe(audio_real), '{:.3f}')})" if audio_real is not None else "")
             + ": far above it means a mouth that follows loudness more closely than real mouths do"
             + "; LMD: landmark distance in inter-ocular distances (mouth shape: mouth points centred first, "
             "so head motion does not count); sharpness: relative to the portrait; "
             "jitter: mean second difference of the non-mouth landmarks; render fidelity: correlation of the "
             "re-detected opening with the driving keypoints' own (does the renderer show the motion it is given); "
             "closed: the median re-detected opening over the frames whose driving opening is below "
             f"{metrics.CLOSED_BELOW} (closed lips asked for), against the real video's own closed level in the same "
             f"crop (the median of its least-open {metrics.CLOSED_SHARE:.0%} of frames)."]
    return "\n".join(lines + notes) + "\n"


def _maybe(value: Any) -> Any:
    return None if value is None else float(value)


def plot_clip(clip: dict[str, Any], path: Path) -> None:
    """Mouth opening over time (real, generated, the motion stage's target) and the envelope."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = clip["series"]
    t = np.asarray(s["times"])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 4.8), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    top.plot(t, s["mouth_real"], color="black", lw=1.6, label="real video")
    top.plot(t, s["mouth_generated"], color="tab:red", lw=1.4, label="generated (re-detected)")
    driving = np.asarray(s.get("mouth_driving", []))
    if driving.size == t.size:
        top.plot(t, driving, color="tab:red", lw=0.9, ls=":", label="motion target (keypoints)")
    if s.get("mouth_portrait") is not None and np.isfinite(s["mouth_portrait"]):
        top.axhline(s["mouth_portrait"], color="grey", lw=0.9, ls="--", label="still portrait")
    row = next(clip["rows"][k] for k in _row_order(clip["rows"]) if k.startswith(GENERATED))
    fig.suptitle(f"{clip['clip']}: mouth r {_fmt(row.get('mouth_corr'), '{:.3f}')}, "
                  f"amplitude {_fmt(row.get('amplitude_ratio'), '{:.2f}')}, "
                  f"audio-mouth r {_fmt(row.get('audio_mouth_corr'), '{:.3f}')} "
                  f"(real {_fmt(row.get('audio_mouth_corr_real'), '{:.3f}')})", fontsize=10, y=0.99)
    top.set_ylabel("inner-lip gap / IOD")
    top.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4, frameon=False)
    top.grid(alpha=0.3)
    bottom.fill_between(t, s["envelope"], color="tab:blue", alpha=0.35, lw=0)
    bottom.plot(t, s["envelope"], color="tab:blue", lw=1.0)
    bottom.set_ylabel("speech envelope")
    bottom.set_xlabel("time (s)")
    bottom.grid(alpha=0.3)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _jsonable(value: Any) -> Any:
    """numpy -> lists, NaN / inf -> null, floats rounded for a readable file."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return round(v, 6) if math.isfinite(v) else None
    if isinstance(value, Path):
        return str(value)
    return value

"""The evaluation's report: the columns and rows, means over clips, the plain-text and markdown
tables, the per-clip plot, and the JSON form (NaN and inf as null)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics
from ..stages import LEARNED, PRIOR, PRIOR_NAME

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
    ("head_roll", "head roll", "{:.2f}"),
    ("head_shift", "head shift", "{:.2f}"),
    ("head_yaw", "head yaw", "{:.2f}"),
    ("brows", "brows", "{:.2f}"),
]
REENACT_COLUMNS: list[tuple[str, str, str]] = [  # `evaluate --reenact` (`frond.evaluate.reenact`)
    ("psnr_mouth", "PSNR mouth", "{:.2f}"),
    ("ssim_mouth", "SSIM mouth", "{:.3f}"),
    ("psnr_face", "PSNR face", "{:.2f}"),
    ("ssim_face", "SSIM face", "{:.3f}"),
]
REENACT_NAMES = {GENERATED: "reenacted", FLOOR: "still first frame"}  # the rows of a reenactment report
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
    "head_roll": "head roll (→1)",
    "head_shift": "head shift (→1)",
    "head_yaw": "head yaw (→1)",
    "brows": "brows (→1)",
}


def row_name(motion: str) -> str:
    """The row of a generated video when several motion paths are compared."""
    return f"{GENERATED} ({motion})"


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
            values = np.array([num(row.get(key)) for row in rows], dtype=np.float64)
            if np.isposinf(values).all():
                means[kind][key] = math.inf
            else:
                finite = values[np.isfinite(values)]
                means[kind][key] = float(finite.mean()) if finite.size else math.nan
        means[kind]["clips"] = len(rows)
    return means


# ---------------------------------------------------------------- presentation


def num(value: Any) -> float:
    return math.nan if value is None else float(value)


def fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return spec.format(value)


def row_order(rows: dict[str, Any]) -> list[str]:
    order = [FLOOR, GENERATED, row_name("learned"), row_name("prior"), CEILING]
    return [k for k in order if k in rows] + [k for k in rows if k not in order]


def columns_of(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The columns a report measures: self-reconstruction's, or `--reenact`'s."""
    return REENACT_COLUMNS if report.get("reenact") else COLUMNS


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table: one row per clip and kind, then the means."""
    reenact = bool(report.get("reenact"))
    columns = columns_of(report)
    headers = ["clip", "video"] + [h for _, h, _ in columns] + ([] if reenact else ["AV r real", "jitter real"])
    lines: list[list[str]] = []

    def add(clip_name: str, kind: str, row: dict[str, Any]) -> None:
        cells = [clip_name, REENACT_NAMES.get(kind, kind) if reenact else kind] + [fmt(row.get(k), f) for k, _, f in columns]
        if not reenact:
            cells += [fmt(row.get("audio_mouth_corr_real"), "{:.3f}"), fmt(row.get("jitter_real"), "{:.5f}")]
        lines.append(cells)

    for clip in report["clips"]:
        for kind in row_order(clip["rows"]):
            add(clip["clip"], kind, clip["rows"][kind])
    for kind in row_order(report.get("mean", {})):
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
    names = {FLOOR: "still portrait (floor)", GENERATED: f"FROND ({LEARNED if learned else PRIOR_NAME})",
             CEILING: "real video (ceiling)", row_name(LEARNED): f"FROND ({LEARNED} motion)",
             row_name(PRIOR): f"FROND ({PRIOR_NAME} motion)"}
    n_clips = len(report.get("clips", []))

    def table(first: str, rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
        out = [f"| {first} | " + " | ".join(MARKDOWN_HEADERS[k] for k in keys) + " |",
               "|" + "---|" * (len(keys) + 1)]
        for name, row in rows:
            cells = [fmt(maybe(row.get(k)), specs[k]).replace("inf", "∞") for k in keys]
            if name == names[CEILING] and row.get("psnr") is None:  # identical frames: +inf, null in JSON
                cells[keys.index("psnr")] = "∞"
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        return out

    mean = report.get("mean", {})
    lines = [f"Self-reconstruction on {n_clips} clip{'s' if n_clips != 1 else ''} "
             f"({report.get('size', 256)}px crop, landmarks: {report.get('landmarks', '?')}); mean over clips.", ""]
    lines += table("video", [(names.get(k, k), mean[k]) for k in row_order(mean)])
    for kind in [k for k in row_order(mean) if k.startswith(GENERATED)] if report.get("clips") else []:
        lines += ["", ""]
        lines += table(f"clip ({names.get(kind, kind)})", [(c["clip"], c["rows"][kind]) for c in report["clips"] if kind in c["rows"]])
    audio_real = next((mean[k].get("audio_mouth_corr_real") for k in mean if k.startswith(GENERATED)), None)
    notes = ["", "mouth-opening r: Pearson correlation of the re-detected inner-lip gap with the real video's; "
             "amplitude ratio: its std over the real one's; audio-mouth r: best correlation with the speech-band "
             "envelope within ±2 frames, to be read against the real clips'" + (f" ({fmt(maybe(audio_real), '{:.3f}')})" if audio_real is not None else "")
             + ": far above it means a mouth that follows loudness more closely than real mouths do"
             + "; LMD: landmark distance in inter-ocular distances (mouth shape: mouth points centred first, "
             "so head motion does not count); sharpness: relative to the portrait; "
             "jitter: mean second difference of the non-mouth landmarks; render fidelity: correlation of the "
             "re-detected opening with the driving keypoints' own (does the renderer show the motion it is given); "
             "closed: the median re-detected opening over the frames whose driving opening is below "
             f"{metrics.CLOSED_BELOW} (closed lips asked for), against the real video's own closed level in the same "
             f"crop (the median of its least-open {metrics.CLOSED_SHARE:.0%} of frames); "
             "head roll, shift, yaw: the spread of the re-detected head's roll (eye line), position (eye centres) "
             "and turn (nose tip off the eyes' midpoint) over the real speaker's, in the same crop; brows: the spread "
             "of the brows' height over the eyes, up the face, over the real speaker's."]
    return "\n".join(lines + notes) + "\n"


def reenact_markdown(report: dict[str, Any]) -> str:
    """A README-ready markdown table of an `evaluate --reenact` report: per clip, the reenacted video beside
    the still first frame, then the means."""
    columns = REENACT_COLUMNS
    header = "| clip | frame | " + " | ".join(f"{h}: {REENACT_NAMES[k]}" for _, h, _ in columns for k in (GENERATED, FLOOR)) + " |"
    lines = [header, "|" + "---|" * (2 + 2 * len(columns))]

    def cells(rows: dict[str, Any]) -> str:
        out = []
        for key, _, spec in columns:
            for kind in (GENERATED, FLOOR):
                text = fmt(maybe(rows[kind].get(key)), spec)
                out.append(f"**{text}**" if kind == GENERATED else text)
        return " | ".join(out)

    for clip in report.get("clips", []):
        lines.append(f"| {clip['clip']} | {clip.get('frame_size', '')} | {cells(clip['rows'])} |")
    if report.get("mean"):
        lines.append(f"| **mean of {len(report['clips'])}** | | {cells(report['mean'])} |")
    return "\n".join(lines) + "\n"


def maybe(value: Any) -> Any:
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
    row = next(clip["rows"][k] for k in row_order(clip["rows"]) if k.startswith(GENERATED))
    fig.suptitle(f"{clip['clip']}: mouth r {fmt(row.get('mouth_corr'), '{:.3f}')}, "
                  f"amplitude {fmt(row.get('amplitude_ratio'), '{:.2f}')}, "
                  f"audio-mouth r {fmt(row.get('audio_mouth_corr'), '{:.3f}')} "
                  f"(real {fmt(row.get('audio_mouth_corr_real'), '{:.3f}')})", fontsize=10, y=0.99)
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


def jsonable(value: Any) -> Any:
    """numpy -> lists, NaN / inf -> null, floats rounded for a readable file."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return round(v, 6) if math.isfinite(v) else None
    if isinstance(value, Path):
        return str(value)
    return value

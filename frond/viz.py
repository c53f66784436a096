"""What a person looks at: keypoint overlays, flow colouring, trajectory plots, side by side."""
from __future__ import annotations

import textwrap
from pathlib import Path

import cv2
import numpy as np

from .types import MotionSequence

# iBUG-68 contours, drawn as polylines
CONTOURS = [(range(0, 17), False), (range(17, 22), False), (range(22, 27), False), (range(27, 31), False),
            (range(31, 36), False), (range(36, 42), True), (range(42, 48), True), (range(48, 60), True),
            (range(60, 68), True)]
MOUTH_COLOUR, FACE_COLOUR = (255, 80, 60), (60, 230, 120)


def draw_keypoints(image: np.ndarray, keypoints_px: np.ndarray) -> np.ndarray:
    """image (H, W, 3) uint8 RGB, keypoints_px (68, 2) -> a copy with the 68 keypoints drawn."""
    out = image.copy()
    scale = max(1, int(round(max(image.shape[:2]) / 256)))
    for indices, closed in CONTOURS:
        points = np.round(keypoints_px[list(indices)] * 4).astype(np.int32)
        colour = MOUTH_COLOUR if indices.start >= 48 else FACE_COLOUR
        cv2.polylines(out, [points], closed, colour, scale, cv2.LINE_AA, shift=2)
    for i, (x, y) in enumerate(keypoints_px):
        cv2.circle(out, (int(round(x * 4)), int(round(y * 4))), 4 * scale, MOUTH_COLOUR if i >= 48 else FACE_COLOUR,
                   -1, cv2.LINE_AA, shift=2)
    return out


FLOW_ARROWS = 16  # arrows across the field's shorter side
OCCLUSION_RGB = (20, 30, 120)  # where the source has no content (the new mouth interior)
PLOT_SIZE_PX = (520, 400)  # the trajectory plot as the app shows it (its panel on a 1366 px screen), CSS px
PLOT_DENSITY = 2  # image pixels per CSS pixel: sharp on high-density screens and when zoomed
PLOT_TEXT_PX = 12  # the plot's smallest text (ticks, legends) at PLOT_SIZE_PX, CSS px


def arrow_step(height: int, width: int, arrows: int = FLOW_ARROWS) -> int:
    """Pixels between the field's arrows."""
    return max(8, min(height, width) // arrows)


def arrow_gain(step: int, max_flow: float) -> float:
    """Arrow length in pixels per pixel of motion: a motion of `max_flow` / 2 draws an arrow 0.45 `step` long."""
    return step * 0.45 / max(max_flow * 0.5, 1e-6)


def flow_to_colour(flow: np.ndarray, occlusion: np.ndarray | None = None, max_flow: float = 12.0,
                   arrows: int = FLOW_ARROWS) -> np.ndarray:
    """flow (H, W, 2) in pixels (source - output position) -> (H, W, 3) uint8 RGB.

    Hue = direction, saturation = magnitude (saturated at `max_flow` px, fixed so that
    frames compare), white = no motion, arrows on a sparse grid (none when `arrows` is 0),
    the occlusion map in dark blue. `flow_key` draws the key.
    """
    h, w = flow.shape[:2]
    magnitude = np.linalg.norm(flow, axis=-1)
    angle = (np.degrees(np.arctan2(flow[..., 1], flow[..., 0])) % 360.0) / 2.0
    hsv = np.stack([angle, np.clip(magnitude / max_flow, 0, 1) * 255, np.full_like(magnitude, 255)], axis=-1)
    rgb = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    if occlusion is not None:
        a = np.clip(occlusion, 0, 1)[..., None] * 0.8
        rgb = (rgb * (1 - a) + np.array(OCCLUSION_RGB) * a).astype(np.uint8)
    if not arrows:
        return rgb
    step = arrow_step(h, w, arrows)
    gain = arrow_gain(step, max_flow)
    for y in range(step // 2, h, step):
        for x in range(step // 2, w, step):
            dx, dy = flow[y, x]
            if dx * dx + dy * dy < 0.25:
                continue
            tip = (int(round(x - dx * gain)), int(round(y - dy * gain)))  # arrow = where the content moves
            cv2.arrowedLine(rgb, (x, y), tip, (30, 30, 30), 1, cv2.LINE_AA, tipLength=0.3)
    return rgb


def _round_length(value: float) -> float:
    """The largest of 1, 2, 5 x 10^k that is not above `value` (> 0)."""
    power = 10.0 ** np.floor(np.log10(value))
    return float(max(m for m in (1, 2, 5) if m * power <= value * (1 + 1e-9)) * power)


def flow_key(height: int, width: int, max_flow: float, arrows: int = FLOW_ARROWS) -> np.ndarray:
    """The key to `flow_to_colour` of a (height, width) field, a strip to put under it: (h, width, 3) uint8 RGB.

    A colour wheel (a colour points the way content moves, paler is less, the rim is
    `max_flow` px), an arrow as long as a round number of pixels of motion, the occlusion swatch.
    """
    unit = max(width, 192) / 256  # text and wheel grow with the field
    h = int(round(48 * unit)) // 2 * 2
    strip = np.full((h, width, 3), 255, np.uint8)
    font, scale, thick, ink = cv2.FONT_HERSHEY_SIMPLEX, 0.42 * unit, max(1, int(round(unit))), (40, 40, 40)

    def text(label: str, x: int, y: int) -> int:
        cv2.putText(strip, label, (x, y), font, scale, ink, thick, cv2.LINE_AA)
        return x + cv2.getTextSize(label, font, scale, thick)[0][0]

    pad = max(2, int(round(4 * unit)))
    radius = h // 2 - pad
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1].astype(np.float32)
    inside = xx ** 2 + yy ** 2 <= radius ** 2
    wheel = flow_to_colour(-np.stack([xx, yy], -1) * (max_flow / radius), max_flow=max_flow, arrows=0)  # content moving (x, y): flow -(x, y)
    strip[pad:pad + 2 * radius + 1, pad:pad + 2 * radius + 1][inside] = wheel[inside]
    cv2.circle(strip, (pad + radius, h // 2), radius, (160, 160, 160), 1, cv2.LINE_AA)
    top, bottom = h // 2 - int(round(4 * unit)), h // 2 + int(round(14 * unit))
    x = 3 * pad + 2 * radius
    right = max(text("way it moves", x, top), text(f"rim: {max_flow:.0f} px", x, bottom)) + 3 * pad
    pixels = _round_length(max_flow)
    length = int(round(pixels * arrow_gain(arrow_step(height, width, arrows), max_flow)))
    arrow_y = top - int(round(4 * unit))
    cv2.arrowedLine(strip, (right, arrow_y), (right + length, arrow_y), (30, 30, 30), thick, cv2.LINE_AA,
                    tipLength=min(0.5, 5 * unit / max(length, 1)))
    text(f"{pixels:g} px", right + length + pad, top)
    swatch = int(round(10 * unit))
    cv2.rectangle(strip, (right, bottom - swatch), (right + swatch, bottom), OCCLUSION_RGB, -1)
    text("new", right + swatch + pad, bottom)
    return strip


def plot_trajectories(motion: MotionSequence, path: Path, title: str = "") -> Path:
    """Mouth opening, lip width, head pose, blinks and the audio envelope over time -> a PNG drawn for
    PLOT_SIZE_PX at PLOT_DENSITY (text PLOT_TEXT_PX high where it is shown at that size)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    text_pt = PLOT_TEXT_PX * 72 / 100  # at 100 dpi a CSS pixel is a figure pixel
    t, ch = motion.times, motion.channels
    legend = {"loc": "upper left", "frameon": True, "framealpha": 0.8, "edgecolor": "none", "borderpad": 0.2,
              "handlelength": 1.2, "borderaxespad": 0.2, "columnspacing": 0.8}
    with plt.rc_context({"font.size": text_pt, "axes.labelsize": text_pt, "xtick.labelsize": text_pt,
                         "ytick.labelsize": text_pt, "legend.fontsize": text_pt, "lines.linewidth": 1.2}):
        fig, axes = plt.subplots(4, 1, figsize=(PLOT_SIZE_PX[0] / 100, PLOT_SIZE_PX[1] / 100), sharex=True,
                                 layout="constrained")
        ax = axes[0]
        if "envelope" in ch:
            ax.fill_between(t, 0, ch["envelope"] * max(0.05, float(np.max(ch.get("open", [0.1])))), color="0.85",
                            label="speech (scaled)")
        ax.plot(t, ch.get("open", np.zeros_like(t)), color="tab:red", label="mouth opening")
        ax.set_ylabel("mouth\nopen")
        ax.legend(ncol=2, **legend)
        ax = axes[1]
        ax.plot(t, ch.get("width", np.zeros_like(t)), color="tab:purple", label="lip width")
        ax.set_ylabel("lip\nwidth")
        ax = axes[2]
        for i, (name, colour) in enumerate((("yaw", "tab:blue"), ("pitch", "tab:orange"), ("roll", "tab:green"))):
            ax.plot(t, motion.head_pose[:, i], color=colour, label=name)
        ax.set_ylabel("head\n(deg)")
        ax.legend(ncol=3, **legend)
        if motion.head_pose.shape[1] > 3 and np.abs(motion.head_pose[:, 3:]).max() > 0:  # the shift, on its own scale
            shift = ax.twinx()
            for i, (name, colour) in enumerate((("shift x", "tab:cyan"), ("shift y", "tab:olive"))):
                shift.plot(t, motion.head_pose[:, 3 + i], color=colour, ls="--", lw=1.0, label=name)
            shift.set_ylabel("shift\n(eye dist.)")
            shift.legend(ncol=2, loc="lower right", frameon=False)
        ax = axes[3]
        ax.plot(t, ch.get("blink", np.zeros_like(t)), color="0.3", label="blink")
        if "brow" in ch:
            ax.plot(t, ch["brow"], color="tab:brown", label="brow raise")
        ax.set_ylabel("eyes,\nbrows")
        ax.set_ylim(-0.05, 1.05)
        ax.legend(ncol=2, **legend)
        axes[-1].set_xlabel("time (s)")
        for ax in axes:
            ax.margins(x=0)
            ax.label_outer()
        title = title or f"Keypoint trajectories: {motion.source}"
        chars = int(PLOT_SIZE_PX[0] * 0.75 / (0.55 * PLOT_TEXT_PX))  # left, within 3/4 of the width: the
        fig.suptitle(textwrap.fill(title, chars), x=0.01, ha="left", fontsize=text_pt)  # viewer's buttons sit top right
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100 * PLOT_DENSITY)
    plt.close(fig)
    return path


def side_by_side(panels: list[np.ndarray], height: int) -> np.ndarray:
    """Panels (Hi, Wi, 3) -> one (height, sum of scaled widths, 3) image, widths made even."""
    scaled = []
    for panel in panels:
        w = int(round(panel.shape[1] * height / panel.shape[0]))
        scaled.append(cv2.resize(panel, (w, height), interpolation=cv2.INTER_AREA))
    out = np.concatenate(scaled, axis=1)
    return out[:, : out.shape[1] // 2 * 2]

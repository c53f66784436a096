"""What a person looks at: keypoint overlays, flow colouring, trajectory plots, side by side."""
from __future__ import annotations

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


def flow_to_colour(flow: np.ndarray, occlusion: np.ndarray | None = None, max_flow: float = 12.0,
                   arrows: int = 16) -> np.ndarray:
    """flow (H, W, 2) in pixels (source - output position) -> (H, W, 3) uint8 RGB.

    Hue = direction, saturation = magnitude (saturated at `max_flow` px, fixed so that
    frames compare), white = no motion, arrows on a sparse grid, the occlusion map in
    dark blue.
    """
    h, w = flow.shape[:2]
    magnitude = np.linalg.norm(flow, axis=-1)
    angle = (np.degrees(np.arctan2(flow[..., 1], flow[..., 0])) % 360.0) / 2.0
    hsv = np.stack([angle, np.clip(magnitude / max_flow, 0, 1) * 255, np.full_like(magnitude, 255)], axis=-1)
    rgb = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    if occlusion is not None:
        a = np.clip(occlusion, 0, 1)[..., None] * 0.8
        rgb = (rgb * (1 - a) + np.array([20, 30, 120]) * a).astype(np.uint8)
    step = max(8, min(h, w) // arrows)
    for y in range(step // 2, h, step):
        for x in range(step // 2, w, step):
            dx, dy = flow[y, x]
            if dx * dx + dy * dy < 0.25:
                continue
            gain = step * 0.45 / max(max_flow * 0.5, 1e-6)
            tip = (int(round(x - dx * gain)), int(round(y - dy * gain)))  # arrow = where the content moves
            cv2.arrowedLine(rgb, (x, y), tip, (30, 30, 30), 1, cv2.LINE_AA, tipLength=0.3)
    return rgb


def plot_trajectories(motion: MotionSequence, path: Path, title: str = "") -> Path:
    """Mouth opening, lip width, head pose, blinks and the audio envelope over time -> a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, ch = motion.times, motion.channels
    fig, axes = plt.subplots(4, 1, figsize=(10, 7.5), sharex=True, constrained_layout=True)
    ax = axes[0]
    if "envelope" in ch:
        ax.fill_between(t, 0, ch["envelope"] * max(0.05, float(np.max(ch.get("open", [0.1])))), color="0.85",
                        label="speech envelope (scaled)")
    ax.plot(t, ch.get("open", np.zeros_like(t)), color="tab:red", lw=1.6, label="mouth opening")
    ax.set_ylabel("opening\n(inner lips / eyes)")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax = axes[1]
    ax.plot(t, ch.get("width", np.zeros_like(t)), color="tab:purple", lw=1.4, label="lip width")
    ax.set_ylabel("lip width\n(corners / eyes)")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax = axes[2]
    for i, (name, colour) in enumerate((("yaw", "tab:blue"), ("pitch", "tab:orange"), ("roll", "tab:green"))):
        ax.plot(t, motion.head_pose[:, i], color=colour, lw=1.2, label=name)
    ax.set_ylabel("head pose (deg)")
    ax.legend(loc="upper right", fontsize=8, frameon=False, ncol=3)
    ax = axes[3]
    ax.plot(t, ch.get("blink", np.zeros_like(t)), color="0.3", lw=1.2, label="blink (lid closure)")
    if "brow" in ch:
        ax.plot(t, ch["brow"], color="tab:brown", lw=1.2, label="brow raise")
    ax.set_ylabel("eyes / brows")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(loc="upper right", fontsize=8, frameon=False, ncol=2)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(title or f"Keypoint trajectories ({motion.source})", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
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

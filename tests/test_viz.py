"""What a person reads: the motion field is motion from the portrait (a still frame is white) and carries
its key; the trajectory plot is drawn for the size the app shows it at.

    .venv/bin/python -m pytest tests/test_viz.py -q
"""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from frond.config import GenerationSettings
from frond.face.framing import output_framing
from frond.intermediates import IntermediatesWriter
from frond.pipeline import FrondPipeline
from frond.types import MotionSequence
from frond.viz import PLOT_DENSITY, PLOT_SIZE_PX, arrow_gain, arrow_step, flow_key, flow_to_colour, plot_trajectories

from .conftest import EXAMPLES


@pytest.fixture(scope="module")
def prepared() -> tuple[FrondPipeline, object, object]:
    """The prior field prepared for the astronaut, in both framings: (pipeline, face, {full_frame: framing})."""
    pipe = FrondPipeline(landmarks="mediapipe", use_phones=False)
    image = np.asarray(Image.open(EXAMPLES / "astronaut.png").convert("RGB"))
    face = pipe.find_face(image, GenerationSettings())
    framings = {full: output_framing(face, GenerationSettings(framing="picture" if full else "crop"), pipe.limits) for full in (False, True)}
    return pipe, face, framings


@pytest.mark.parametrize("full_frame", [False, True])
def test_a_still_frame_is_white_and_a_moved_mouth_is_coloured_only_there(prepared, tmp_path, full_frame):
    pipe, face, framings = prepared
    framing = framings[full_frame]
    field = pipe.priors.field
    field.prepare(face, pipe.priors.encoder.encode(face), framing.space)
    still = face.keypoints[None].astype(np.float32)
    rest = field.frames(still, np.zeros((1, 3), np.float32))[0]
    writer = IntermediatesWriter(tmp_path, face, framing, 25.0, None, 256, still_field=rest)
    for reference in (writer, IntermediatesWriter(tmp_path, face, framing, 25.0, None, 256)):  # the source map, the identity
        flow = reference.flow(rest)
        assert np.abs(flow).max() < 0.5, "a frame that shows the portrait as it is moves nothing"
        assert flow_to_colour(flow, max_flow=writer.max_flow).min() >= 250, "and is drawn white"

    moved = still.copy()
    moved[0, 57:59, 1] += 0.03  # the lower lip drops
    frame = field.frames(moved, np.zeros((1, 3), np.float32))[0]
    colour = flow_to_colour(writer.flow(frame), max_flow=writer.max_flow, arrows=0)
    tinted = colour.min(-1) < 200
    ys, xs = np.nonzero(tinted)
    lip = writer.norm_to_out[:, :2] @ moved[0, 57] + writer.norm_to_out[:, 2]
    assert tinted.any() and np.hypot(xs - lip[0], ys - lip[1]).max() < 0.25 * max(colour.shape), "colour away from the lip"


def test_the_key_wheel_agrees_with_the_arrows():
    """Content that moves right: flow (source - output) points left; the wheel's right edge has its colour,
    and the key's arrow is drawn at the field's own arrow scale."""
    max_flow = 12.0
    key = flow_key(256, 256, max_flow)
    assert key.shape[1] == 256 and 30 <= key.shape[0] <= 80
    h = key.shape[0]
    pad = max(2, round(4 * 256 / 256))
    radius = h // 2 - pad
    right_edge = key[h // 2, pad + 2 * radius - 2].astype(int)
    moving_right = flow_to_colour(np.array([[[-max_flow, 0.0]]], np.float32), max_flow=max_flow, arrows=0)[0, 0]
    assert np.abs(right_edge - moving_right).max() <= 40, (right_edge, moving_right)
    assert arrow_gain(arrow_step(256, 256), max_flow) * 10 > 5  # a 10 px arrow is visible at this scale


def test_trajectory_plot_is_drawn_for_its_panel(tmp_path):
    t = np.linspace(0, 3, 76)
    motion = MotionSequence(times=t, keypoints=np.zeros((76, 68, 2), np.float32), head_pose=np.zeros((76, 3), np.float32),
                            channels={"open": np.abs(np.sin(5 * t)) * 0.2, "envelope": np.abs(np.sin(5 * t))},
                            source="a source with a rather long name that must wrap before the viewer's buttons")
    path = plot_trajectories(motion, tmp_path / "plot.png")
    with Image.open(path) as image:
        assert image.size == (PLOT_SIZE_PX[0] * PLOT_DENSITY, PLOT_SIZE_PX[1] * PLOT_DENSITY)
        top_right = np.asarray(image.convert("L"))[: 16 * PLOT_DENSITY, -PLOT_SIZE_PX[0] * PLOT_DENSITY // 5:]
    assert top_right.min() > 200, "the title runs under the viewer's buttons (top right)"

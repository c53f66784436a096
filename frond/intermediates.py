"""What each stage produced, written beside the video when a generation asks for it.

- `aligned.png`: the aligned portrait with its keypoints (stage 1);
- `motion_field.mp4`: every frame's dense field (stage 3) as motion from the portrait (a frame whose
  driving keypoints and pose are the portrait's is white), coloured by direction and size, the
  occlusion in dark blue (`frond.viz.flow_to_colour`), over its key (`frond.viz.flow_key`);
- `overlay.mp4`: the video with the driving keypoints drawn (stage 2), with the sound;
- `side_by_side.mp4`: the aligned portrait, the field and the output, with the sound;
- `keypoints.npz`: the motion (times, keypoints in normalised crop space and output pixels,
  head pose, channels) and the source keypoints;
- `trajectories.png`: the keypoint trajectories over time (`frond.viz.plot_trajectories`).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from .face.framing import Framing
from .face.ibug import norm_to_px
from .imaging import affine_scale, apply_affine, invert_affine
from .media import VideoWriter
from .types import AlignedFace, FieldFrame, MotionSequence
from .viz import draw_keypoints, flow_key, flow_to_colour, plot_trajectories, side_by_side


class IntermediatesWriter:
    """Writes the intermediates of one generation into `folder`, frame by frame beside the video.

    Use as a context manager around the frame loop: `write` each frame there; after it has
    closed (the videos are finished, or removed on error), `finish` writes the rest.
    """

    def __init__(self, folder: str | os.PathLike, face: AlignedFace, framing: Framing, fps: float,
                 audio_path: Path | None, panel_height: int, still_field: FieldFrame | None = None) -> None:
        """panel_height: the height of the side-by-side video (its panels are scaled to it); still_field: the field
        of a frame that shows the portrait as it is (its own keypoints and pose), which the motion field
        is shown relative to (None: the identity map)."""
        self.folder = Path(folder)
        self.framing = framing
        self.fps = fps
        self.audio_path = audio_path
        self.panel_height = panel_height
        self.still = draw_keypoints(face.image, norm_to_px(face.keypoints, face.size))  # (S, S, 3) the input with its keypoints
        space = framing.space
        self.norm_to_out = invert_affine(space.out_to_norm)
        self.max_flow = 0.05 * affine_scale(self.norm_to_out)  # output px at which the flow's colour saturates
        gy, gx = np.mgrid[0:space.height, 0:space.width].astype(np.float32)
        self.out_grid = np.stack([gx, gy], axis=-1)  # (H, W, 2) every output pixel's own position
        self.rest = self.out_grid if still_field is None else self._in_output_px(still_field)  # (H, W, 2) where a still frame samples
        self.field_size = (space.width // 2 * 2, space.height // 2 * 2)  # the field's picture (even, for the video)
        self.key = flow_key(self.field_size[1], self.field_size[0], self.max_flow)  # (h, W, 3) under it
        self.files: dict[str, Path] = {}
        self.videos: dict[str, VideoWriter] = {}
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> IntermediatesWriter:
        self.folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(self.folder / "aligned.png"), cv2.cvtColor(self.still, cv2.COLOR_RGB2BGR))
        self.files["aligned.png"] = self.folder / "aligned.png"
        space, frame_w, frame_h = self.framing.space, self.framing.width, self.framing.height
        sbs_w = side_by_side([self.still, np.zeros((space.height, space.width, 3), np.uint8),
                              np.zeros((frame_h, frame_w, 3), np.uint8)], self.panel_height).shape[1]
        field_w, field_h = self.field_size
        sizes = {"motion_field.mp4": (field_w, field_h + self.key.shape[0], None),
                 "overlay.mp4": (frame_w, frame_h, self.audio_path),
                 "side_by_side.mp4": (sbs_w, self.panel_height, self.audio_path)}
        with contextlib.ExitStack() as stack:  # a writer that fails to open closes (removes) the others
            for name, (width, height, audio) in sizes.items():
                self.videos[name] = stack.enter_context(VideoWriter(self.folder / name, width, height, self.fps,
                                                                    audio_path=audio, threaded=True))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> bool | None:
        """Finish the videos (or remove them all on error)."""
        self.files.update({name: video.path for name, video in self.videos.items()})
        return self._stack.__exit__(kind, error, traceback)

    def write(self, field: FieldFrame, frame: np.ndarray, keypoints: np.ndarray) -> None:
        """One frame: its field over the output space, the video frame (Hf, Wf, 3) uint8 and its
        driving keypoints (68, 2) in normalised crop space."""
        flow_rgb = flow_to_colour(self.flow(field), field.occlusion, max_flow=self.max_flow)
        field_w, field_h = self.field_size
        self.videos["motion_field.mp4"].write(np.concatenate([flow_rgb[:field_h, :field_w], self.key]))
        self.videos["overlay.mp4"].write(draw_keypoints(frame, self.framing.to_frame(keypoints)))
        self.videos["side_by_side.mp4"].write(side_by_side([self.still, flow_rgb, frame], self.panel_height))

    def flow(self, field: FieldFrame) -> np.ndarray:
        """The field as motion from the portrait, in output pixels: (H, W, 2), where each pixel samples the
        source minus where a still frame samples it (zero where the frame shows the portrait as it is)."""
        return self._in_output_px(field) - self.rest

    def _in_output_px(self, field: FieldFrame) -> np.ndarray:
        """(H, W, 2) the field's source positions in output pixels."""
        return cv2.transform(field.dense(), self.norm_to_out.astype(np.float32))

    def finish(self, motion: MotionSequence, source_keypoints: np.ndarray) -> dict[str, Path]:
        """Write keypoints.npz and trajectories.png -> every intermediate, name -> file."""
        path = self.folder / "keypoints.npz"
        np.savez_compressed(path, times=motion.times, keypoints=motion.keypoints,
                            keypoints_px=apply_affine(self.norm_to_out, motion.keypoints.astype(np.float64)).astype(np.float32),
                            head_pose=motion.head_pose, source_keypoints=source_keypoints,
                            **{f"channel_{k}": v for k, v in motion.channels.items()})
        self.files["keypoints.npz"] = path
        self.files["trajectories.png"] = plot_trajectories(motion, self.folder / "trajectories.png")
        return dict(self.files)

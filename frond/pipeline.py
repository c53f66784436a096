"""FrondPipeline: portrait + speech -> talking-face MP4, stage by stage.

Stages (see ../DESIGN.md): keypoint encoder -> motion estimator (continuous
trajectories) -> dense motion field -> decoder. Each stage is the learned FROND module
when weights provide it, else the training-free prior; `modes` says which ran.
"""
from __future__ import annotations

import contextlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
import logging
import os
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

from .config import DEFAULT_LIMITS, GenerationSettings, Limits
from .errors import FrondInputError
from .face.align import align_face, apply_affine, invert_affine, norm_to_px, norm_to_px_affine, px_to_norm_affine
from .face.ibug import inter_ocular
from .face.landmarks import detect_faces
from .field.prior import PriorDenseField
from .media import VideoWriter, load_audio, load_image
from .paths import check_paths
from .audio.phone_worker import PhoneSource, PhoneWorker
from .motion.learned import LearnedMotionEstimator, load_motion_net
from .motion.prior import PriorKeypointEncoder, PriorMotionEstimator
from .render.prior import PriorDecoder
from .types import AlignedFace, GenerationResult, OutputSpace
from .viz import draw_keypoints, flow_to_colour, plot_trajectories, side_by_side

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None]
PRIOR = "training-free prior"
STAGES = ("encoder", "motion", "field", "decoder")
BUNDLED_MOTION = Path(__file__).resolve().parent / "pretrained" / "motion"  # the motion network FROND ships
BUNDLED_MOTION_ID = "frond-motion (bundled)"
OUTPUT_CRF = 17  # x264 quality of the video: at 20, motion cost ~15 % of the frames' detail (evaluate's sharpness)


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(2, 3) affines -> a after b."""
    return (np.vstack([a, [0, 0, 1]]) @ np.vstack([b, [0, 0, 1]]))[:2]


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when a GPU is usable, else "cpu"; anything else as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class FrondPipeline:
    """Portrait + speech -> talking-face video. Build once, call `generate` many times."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS, weights: str | None = None, device: str = "auto",
                 landmarks: str = "auto", use_phones: bool = True) -> None:
        self.limits = limits
        self.landmarks = landmarks
        self.notices: list[str] = []
        worker = PhoneWorker.shared() if use_phones else None
        if worker is not None:
            worker.start()  # the helper imports its recogniser on another core while we find the face
        self.phones = PhoneSource(worker)  # one helper process for either motion path
        self.prior_motion = PriorMotionEstimator(use_phones=use_phones, source=self.phones)
        self.stages: dict[str, object] = {
            "encoder": PriorKeypointEncoder(),
            "motion": self._bundled_motion(),
            "field": PriorDenseField(), "decoder": PriorDecoder(),
        }
        self.weights = weights
        self.weights_error: str | None = None  # why `weights` could not be loaded, if they could not
        if weights:
            self._load_learned(weights, device)

    def _bundled_motion(self) -> object:
        """The motion network that ships with FROND (`frond/pretrained/motion`), else the prior."""
        try:
            return LearnedMotionEstimator(load_motion_net(BUNDLED_MOTION), BUNDLED_MOTION_ID, self.phones)
        except FrondInputError as exc:
            self.notices.append(f"The bundled motion network could not be loaded ({exc}); using the training-free prior.")
            return self.prior_motion

    def motion_stage(self, settings: GenerationSettings) -> object:
        """The motion estimator a generation uses: the learned one unless `settings.motion` asks for the prior."""
        return self.prior_motion if settings.motion == "prior" else self.stages["motion"]

    @classmethod
    def from_pretrained(cls, weights: str, **kwargs) -> "FrondPipeline":
        """A pipeline whose stages come from `weights` (Hub id[@revision] or folder) where trained."""
        return cls(weights=weights, **kwargs)

    def _load_learned(self, weights: str, device: str) -> None:
        try:
            from .weights import load_learned_stages, trained_stages

            dev = resolve_device(device) if "render" in trained_stages(weights) else "cpu"
            learned = load_learned_stages(weights, device=dev, phones=self.phones)
        except FrondInputError as exc:
            self.weights_error = str(exc)
            self.notices.append(f"{exc} Using the bundled stages instead.")
            return
        except ImportError as exc:
            self.weights_error = f"learned stages unavailable ({exc})"
            self.notices.append(f"Learned stages unavailable ({exc}); using the bundled stages instead.")
            return
        self.stages.update(learned)
        missing = [s for s in STAGES if s not in learned]
        if missing:
            self.notices.append(f"{weights} has no trained {', '.join(missing)}; those stages use the bundled ones.")

    def close(self) -> None:
        """Stop the helper processes (the phone recogniser's). Also done at exit; `generate` restarts them."""
        if self.phones.worker is not None:
            self.phones.worker.close()

    @property
    def modes(self) -> dict[str, str]:
        """Stage -> "training-free prior" or "learned: <weights id>"."""
        return {name: getattr(stage, "name", PRIOR) for name, stage in self.stages.items()}

    def warm_up(self) -> None:
        """Load the landmark model, the phone recogniser and librosa's compiled kernels now, so that
        the first request does not pay for them (the app calls this in the background)."""
        from .audio.features import pitch_contour, speech_envelope
        from .audio.phones import recognise_phones

        noise = (0.05 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
        recognise_phones(noise, 16000)
        worker = self.phones.worker
        if worker is not None:
            worker.submit(noise).result(timeout=60)  # the helper process is up and has imported
        times = np.linspace(0, 1, 25)
        speech_envelope(noise, 16000, times)
        pitch_contour(noise, 16000, times)
        detect_faces(np.zeros((64, 64, 3), np.uint8), backend=self.landmarks)

    def _frames(self, field, decoder, motion, n_frames: int, paste: Callable[[np.ndarray], np.ndarray], chunk: int = 16):
        """Yield (field, frame, field seconds, decoder seconds) for every frame, in order.

        Fields come in chunks (`frames`: one batched solve for the prior, one network call for
        the learned field). A decoder with `render_batch` (learned) renders each chunk at once;
        otherwise frames render on a small thread pool (the prior's numpy/OpenCV work releases
        the GIL) while the next chunk's fields are computed. The window is short, so memory
        stays flat however long the audio is.
        """
        batched = hasattr(field, "frames")
        workers = self.render_workers(field, decoder)

        def render(i: int, frame_field, field_s: float):
            t0 = time.perf_counter()
            frame = paste(decoder.render(frame_field, motion.keypoints[i]))
            return frame_field, frame, field_s, time.perf_counter() - t0

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="render") as pool:
            pending: deque = deque()
            for start in range(0, n_frames, chunk):
                stop = min(start + chunk, n_frames)
                t0 = time.perf_counter()
                if batched:
                    fields = field.frames(motion.keypoints[start:stop], motion.head_pose[start:stop])
                else:
                    fields = [field.frame(motion.keypoints[i], motion.head_pose[i]) for i in range(start, stop)]
                field_s = (time.perf_counter() - t0) / (stop - start)
                if hasattr(decoder, "render_batch"):
                    t1 = time.perf_counter()
                    images = decoder.render_batch(fields)
                    decoder_s = (time.perf_counter() - t1) / (stop - start)
                    for frame_field, image in zip(fields, images):
                        yield frame_field, paste(image), field_s, decoder_s
                    continue
                for k, frame_field in enumerate(fields):
                    pending.append(pool.submit(render, start + k, frame_field, field_s))
                while len(pending) > chunk:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    @staticmethod
    def render_workers(field: object, decoder: object) -> int:
        """Frames rendered in parallel: the priors (numpy/OpenCV, which release the GIL) use
        every core; learned modules batch on their device instead, one at a time."""
        if getattr(field, "name", PRIOR) == PRIOR and getattr(decoder, "name", PRIOR) == PRIOR:
            return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
        return 1

    # -- the stages in order -------------------------------------------------------------

    def find_face(self, portrait: np.ndarray, settings: GenerationSettings) -> AlignedFace:
        faces = detect_faces(portrait, backend=self.landmarks, max_faces=max(4, settings.face_index + 1))
        if not faces:
            raise FrondInputError("No face found in the portrait. Use a clear, well-lit photo where the face is at least "
                                  f"{self.limits.min_face_pixels} px across and turned towards the camera; "
                                  "if the face is small in a large picture, crop the picture around it.")
        if settings.face_index >= len(faces):
            raise FrondInputError(f"Face {settings.face_index} was asked for, but the portrait has {len(faces)} face(s): "
                                  f"use --face-index 0 to {len(faces) - 1} (0 = the largest).")
        face = faces[settings.face_index]
        span = float(inter_ocular(face.landmarks)) * 2.5
        if span < self.limits.min_face_pixels:
            raise FrondInputError(f"The face is too small ({span:.0f} px across; at least {self.limits.min_face_pixels} "
                                  "px is needed). Use a closer or larger photo.")
        return align_face(portrait, face, settings.size)

    def output_space(self, face: AlignedFace, settings: GenerationSettings
                     ) -> tuple[OutputSpace, tuple[int, int] | None, np.ndarray, np.ndarray | None]:
        """Crop mode: the aligned crop. Full frame: the crop's footprint inside the portrait.

        Either way the space's source is the (possibly downscaled) portrait itself, so that a
        decoder samples it once through the field (the alignment affine is in `norm_to_source`).

        Returns the space, the (x, y) offset of the region in the full frame (None for
        crop mode), the background the region is pasted into, and the paste-back alpha
        (H, W, 1): 1 inside, falling to 0 at the crop's edge, so that no seam shows.
        """
        size = settings.size
        n2p, p2n = norm_to_px_affine(size), px_to_norm_affine(size)
        portrait, matrix = face.portrait, face.crop_from_image
        if not settings.full_frame:  # the decoder samples the original portrait (one resampling pass)
            space = OutputSpace(size, size, out_to_norm=p2n, source=portrait, norm_to_source=_compose(invert_affine(matrix), n2p))
            return space, None, face.image, None
        side = max(portrait.shape[:2])
        if side > self.limits.max_full_frame_side:
            scale = self.limits.max_full_frame_side / side
            portrait = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            shrink = np.array([[scale, 0, 0.5 * scale - 0.5], [0, scale, 0.5 * scale - 0.5]])
            matrix = _compose(matrix, invert_affine(shrink))
        h, w = portrait.shape[0] // 2 * 2, portrait.shape[1] // 2 * 2
        portrait = np.ascontiguousarray(portrait[:h, :w])
        image_from_crop = invert_affine(matrix)
        corners = apply_affine(image_from_crop, norm_to_px(np.array([[-1, -1], [1, -1], [1, 1], [-1, 1.0]]), size))
        x0, y0 = np.clip(np.floor(corners.min(0)).astype(int), 0, None)
        x1, y1 = np.ceil(corners.max(0)).astype(int)
        x1, y1 = min(int(x1), w), min(int(y1), h)
        if x1 - x0 < 8 or y1 - y0 < 8:
            raise FrondInputError("The face lies outside the image; use a photo where the whole face is visible.")
        offset = np.array([[1.0, 0, x0], [0, 1.0, y0]])
        out_to_norm = _compose(p2n, _compose(matrix, offset))
        space = OutputSpace(int(y1 - y0), int(x1 - x0), out_to_norm=out_to_norm, source=portrait,
                            norm_to_source=_compose(image_from_crop, n2p))
        feather = np.zeros((size, size), np.float32)
        margin = max(2, size // 16)
        ramp = np.clip(np.minimum(np.arange(size), np.arange(size)[::-1]) / margin, 0, 1).astype(np.float32)
        feather[:] = np.minimum(ramp[None, :], ramp[:, None])
        crop_from_out = _compose(matrix, offset)
        alpha = cv2.warpAffine(feather, crop_from_out, (space.width, space.height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        return space, (int(x0), int(y0)), portrait, alpha[..., None]

    def generate(self, portrait, audio, out_path: str | os.PathLike, settings: GenerationSettings = GenerationSettings(),
                 intermediates_dir: str | os.PathLike | None = None, progress: Progress | None = None) -> GenerationResult:
        """Portrait (path, PIL image or (H, W, 3) array) + audio (path) -> the MP4 at `out_path`.

        Bad input raises `FrondInputError`; nothing is left at `out_path` on failure.
        """
        started = time.perf_counter()
        report = progress or (lambda fraction, stage: None)
        timings: dict[str, float] = {}
        notices = list(self.notices)

        def timed(name: str, start: float) -> None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - start

        check_paths(out_path, (portrait, audio), intermediates_dir)  # before any work: never overwrite an input
        report(0.0, "reading the portrait and the audio")
        t = time.perf_counter()
        image, image_notices = load_image(portrait, self.limits)
        notices += image_notices
        clip = load_audio(audio, self.limits)
        if not np.any(np.abs(clip.samples) > 1e-3):
            notices.append("The audio is silent: the video shows idle motion with the mouth closed.")
        timed("load", t)

        motion_stage = self.motion_stage(settings)
        if hasattr(motion_stage, "prefetch"):  # phones start in a helper process while we do the rest
            motion_stage.prefetch(clip)

        report(0.03, "finding the face and its keypoints")
        t = time.perf_counter()
        face = self.find_face(image, settings)
        keypoints, global_code = self.stages["encoder"].encode(face)
        space, offset, background, alpha = self.output_space(face, settings)
        field, decoder = self.stages["field"], self.stages["decoder"]
        field.prepare(face, keypoints, space)
        decoder.prepare(face, keypoints, space)
        height, width = background.shape[:2]
        norm_to_out = invert_affine(space.out_to_norm)
        px_per_norm = float(np.sqrt(abs(np.linalg.det(norm_to_out[:, :2]))))
        n_frames = max(1, int(round(clip.duration * settings.fps)))
        times = np.arange(n_frames) / settings.fps  # presentation times: frame i shows the voice at i / fps
        timed("face", t)

        out_path = Path(out_path)
        inter = Path(intermediates_dir) if intermediates_dir else None
        files: dict[str, Path] = {}
        with contextlib.ExitStack() as stack:
            stack.enter_context(threadpool_limits(1, user_api="blas"))  # small solves: threads only cost
            writer = stack.enter_context(VideoWriter(out_path, width, height, settings.fps, audio_path=clip.path,
                                                     threaded=True, crf=OUTPUT_CRF))
            extra: dict[str, VideoWriter] = {}
            if inter is not None:
                inter.mkdir(parents=True, exist_ok=True)
                still = draw_keypoints(face.image, norm_to_px(face.keypoints, face.size))
                cv2.imwrite(str(inter / "aligned.png"), cv2.cvtColor(still, cv2.COLOR_RGB2BGR))
                files["aligned.png"] = inter / "aligned.png"
                panel_w = space.width // 2 * 2
                extra["motion_field.mp4"] = stack.enter_context(VideoWriter(inter / "motion_field.mp4", panel_w, space.height // 2 * 2, settings.fps, threaded=True))
                extra["overlay.mp4"] = stack.enter_context(VideoWriter(inter / "overlay.mp4", width, height, settings.fps, audio_path=clip.path, threaded=True))
                sbs_h = settings.size
                sbs_w = side_by_side([still, np.zeros((space.height, space.width, 3), np.uint8),
                                      np.zeros((height, width, 3), np.uint8)], sbs_h).shape[1]
                extra["side_by_side.mp4"] = stack.enter_context(VideoWriter(inter / "side_by_side.mp4", sbs_w, sbs_h, settings.fps, audio_path=clip.path, threaded=True))
            report(0.08, "estimating motion from speech")
            t = time.perf_counter()
            motion = motion_stage.estimate(clip, keypoints, global_code, times, settings)
            timed("motion", t)
            report(0.12, "rendering frames")

            def paste(rendered: np.ndarray) -> np.ndarray:
                if offset is None:
                    return rendered
                frame = background.copy()
                x0, y0 = offset
                region = frame[y0:y0 + space.height, x0:x0 + space.width]
                region[:] = (rendered * alpha + region * (1.0 - alpha)).astype(np.uint8)
                return frame

            out_grid = None
            for i, (frame_field, frame, field_s, decoder_s) in enumerate(
                    self._frames(field, decoder, motion, n_frames, paste)):
                timings["field"] = timings.get("field", 0.0) + field_s
                timings["decoder"] = timings.get("decoder", 0.0) + decoder_s
                t = time.perf_counter()
                writer.write(frame)
                timed("encode", t)
                if extra:
                    t = time.perf_counter()
                    if out_grid is None:
                        gy, gx = np.mgrid[0:space.height, 0:space.width].astype(np.float32)
                        out_grid = np.stack([gx, gy], axis=-1)
                    flow = cv2.transform(frame_field.dense(), norm_to_out.astype(np.float32)) - out_grid
                    flow_rgb = flow_to_colour(flow, frame_field.occlusion, max_flow=0.05 * px_per_norm)
                    extra["motion_field.mp4"].write(np.ascontiguousarray(flow_rgb[: space.height // 2 * 2, : space.width // 2 * 2]))
                    kp_px = apply_affine(norm_to_out, motion.keypoints[i].astype(np.float64))
                    if offset is not None:
                        kp_px = kp_px + np.array(offset)
                    extra["overlay.mp4"].write(draw_keypoints(frame, kp_px))
                    extra["side_by_side.mp4"].write(side_by_side([still, flow_rgb, frame], settings.size))
                    timed("intermediates", t)
                if i % 10 == 0 or i == n_frames - 1:
                    report(0.12 + 0.86 * (i + 1) / n_frames, f"rendering frames ({i + 1}/{n_frames})")
            files.update({name: w.path for name, w in extra.items()})
            t = time.perf_counter()
        timed("encode", t)  # leaving the `with` finished every file (or removed them all on error)
        if inter is not None:
            np.savez_compressed(inter / "keypoints.npz", times=motion.times, keypoints=motion.keypoints,
                                keypoints_px=apply_affine(norm_to_out, motion.keypoints.astype(np.float64)).astype(np.float32),
                                head_pose=motion.head_pose, source_keypoints=keypoints,
                                **{f"channel_{k}": v for k, v in motion.channels.items()})
            files["keypoints.npz"] = inter / "keypoints.npz"
            files["trajectories.png"] = plot_trajectories(motion, inter / "trajectories.png")
        report(1.0, "done")
        timings["total"] = time.perf_counter() - started  # wall time of this call: what a batch's overhead is measured against
        return GenerationResult(video_path=out_path, duration=n_frames / settings.fps, n_frames=n_frames, fps=settings.fps,
                                width=width, height=height, motion=motion, aligned=face,
                                modes={**self.modes, "motion": getattr(motion_stage, "name", PRIOR)},
                                timings=timings, intermediates=files, notices=notices)

"""FrondPipeline: portrait + speech -> talking-face MP4, stage by stage.

Stages (docs/DESIGN.md): keypoint encoder -> motion estimator (continuous trajectories)
-> dense motion field -> decoder. Each stage is the learned FROND module when weights
provide it, else the training-free prior; `modes` says which ran, `stage_weights` which
weights. The framing (the whole picture, or the aligned crop) is `frond.face.framing`; the
intermediates, `frond.intermediates`. A driving video instead of speech makes the motion stage
its face's (`frond.motion.video`): reenactment.
"""
from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from threadpoolctl import threadpool_limits

from .audio.phone_worker import PhoneSource, PhoneWorker
from .config import DEFAULT_LIMITS, GenerationSettings, Limits, available_cores
from .errors import FrondInputError
from .face.align import align_face
from .face.framing import Framing, output_framing
from .face.ibug import inter_ocular
from .face.landmarks import detect_faces, several_faces_note
from .intermediates import IntermediatesWriter
from .media import VideoWriter, load_audio, load_image
from .motion.video import DrivingVideo, VideoMotionEstimator, read_driving_video
from .paths import check_paths, remove_stale_parts
from .registry import bundled_motion, prior_stages
from .stages import PRIOR, PRIOR_NAME, DenseFieldEstimator, ImageDecoder, MotionEstimator
from .types import AlignedFace, AudioClip, FieldFrame, GenerationResult, MotionSequence

if TYPE_CHECKING:
    from PIL import Image

Progress = Callable[[float, str], None]
OUTPUT_CRF = 17  # x264 quality of the video: at 20, motion cost ~15 % of the frames' detail (evaluate's sharpness)


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when a GPU is usable, else "cpu"; anything else as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Timings(dict[str, float]):
    """Stage name -> seconds, summed over the calls."""

    def add(self, name: str, seconds: float) -> None:
        self[name] = self.get(name, 0.0) + seconds

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """`with timings("motion"): ...` adds the block's wall time to "motion"."""
        start = time.perf_counter()
        yield
        self.add(name, time.perf_counter() - start)


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
        self.priors = prior_stages(self.phones, use_phones)
        self.stages = replace(self.priors, motion=self._bundled_motion())
        self.weights = weights
        self.weights_error: str | None = None  # why `weights` could not be loaded, if they could not
        if weights:
            self._load_learned(weights, device)

    def _bundled_motion(self) -> MotionEstimator:
        """The motion network that ships with FROND (`frond/pretrained/motion`), else the prior."""
        try:
            return bundled_motion(self.phones)
        except FrondInputError as exc:
            self.notices.append(f"The bundled motion network could not be loaded ({exc}); using the {PRIOR_NAME}.")
            return self.priors.motion

    def motion_stage(self, settings: GenerationSettings) -> MotionEstimator:
        """The motion estimator a generation uses: the learned one unless `settings.motion` asks for the prior."""
        return self.priors.motion if settings.motion == PRIOR else self.stages.motion

    @classmethod
    def from_pretrained(cls, weights: str, **kwargs: Any) -> FrondPipeline:
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
        self.stages = replace(self.stages, **learned)
        missing = [name for name, _ in self.stages.items() if name not in learned]
        if missing:
            self.notices.append(f"{weights} has no trained {', '.join(missing)}; those stages use the bundled ones.")

    def close(self) -> None:
        """Stop the helper processes (the phone recogniser's). Also done at exit; `generate` restarts them."""
        if self.phones.worker is not None:
            self.phones.worker.close()

    @property
    def modes(self) -> dict[str, str]:
        """Stage -> its display name: PRIOR_NAME or "learned: <weights id>"."""
        return {name: stage.name for name, stage in self.stages.items()}

    @property
    def stage_weights(self) -> dict[str, str | None]:
        """Stage -> the weights id its learned module came from; None for the training-free prior."""
        return {name: stage.weights for name, stage in self.stages.items()}

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

    @staticmethod
    def render_workers(field: DenseFieldEstimator, decoder: ImageDecoder) -> int:
        """Frames rendered in parallel: the priors (numpy/OpenCV, which release the GIL) use
        every core; learned modules batch on their device instead, one at a time."""
        if not field.learned and not decoder.learned:
            return max(1, min(4, available_cores()))
        return 1

    def render(self, motion: MotionSequence, paste: Callable[[np.ndarray], np.ndarray], timings: Timings,
               chunk: int = 16) -> Iterator[tuple[FieldFrame, np.ndarray]]:
        """Stages 3 and 4 over the whole motion: yield (field, pasted frame) for every frame, in order.

        Fields come in chunks (`frames`: one batched solve for the prior, one network call for
        the learned field). A batched decoder (learned) renders each chunk at once; otherwise
        frames render on a small thread pool (the prior's numpy/OpenCV work releases the GIL)
        while the next chunk's fields are computed. The window is short, so memory stays flat
        however long the audio is. Adds "field" and "decoder" seconds to `timings`.
        """
        field, decoder = self.stages.field, self.stages.decoder

        pending: deque[Future[tuple[FieldFrame, np.ndarray, float]]] = deque()

        def render_one(frame_field: FieldFrame, keypoints: np.ndarray) -> tuple[FieldFrame, np.ndarray, float]:
            t0 = time.perf_counter()
            frame = paste(decoder.render(frame_field, keypoints))
            return frame_field, frame, time.perf_counter() - t0

        def finished(keep: int) -> Iterator[tuple[FieldFrame, np.ndarray]]:
            """The threads' frames, in order, until `keep` are left pending."""
            while len(pending) > keep:
                frame_field, frame, seconds = pending.popleft().result()
                timings.add("decoder", seconds)
                yield frame_field, frame

        with ThreadPoolExecutor(max_workers=self.render_workers(field, decoder), thread_name_prefix="render") as pool:
            for start in range(0, motion.n_frames, chunk):
                keypoints = motion.keypoints[start:start + chunk]
                with timings("field"):
                    fields = field.frames(keypoints, motion.head_pose[start:start + chunk])
                if decoder.batched:
                    with timings("decoder"):
                        images = decoder.render_batch(fields, keypoints)
                    yield from zip(fields, (paste(image) for image in images))
                else:
                    pending.extend(pool.submit(render_one, f, k) for f, k in zip(fields, keypoints))
                    yield from finished(keep=chunk)
            yield from finished(keep=0)

    def find_face(self, portrait: np.ndarray, settings: GenerationSettings, notices: list[str] | None = None) -> AlignedFace:
        """The portrait's face `settings.face_index`, aligned to the crop; FrondInputError when there is none.
        With several faces, a note saying which one is animated is appended to `notices`."""
        max_faces = max(4, settings.face_index + 1)
        faces = detect_faces(portrait, backend=self.landmarks, max_faces=max_faces)
        if not faces:
            raise FrondInputError("No face found in the portrait. Use a clear, well-lit photo where the face is at least "
                                  f"{self.limits.min_face_pixels} px across and turned towards the camera; "
                                  "if the face is small in a large picture, crop the picture around it.")
        if settings.face_index >= len(faces):
            raise FrondInputError(f"Face {settings.face_index} was asked for, but the portrait has {len(faces)} face(s): "
                                  f"use --face-index 0 to {len(faces) - 1} (0 = the largest).")
        face = faces[settings.face_index]
        note = several_faces_note(len(faces), settings.face_index, capped=len(faces) == max_faces)
        if note and notices is not None:
            notices.append(note)
        span = float(inter_ocular(face.landmarks)) * 2.5
        if span < self.limits.min_face_pixels:
            raise FrondInputError(f"The face is too small ({span:.0f} px across; at least {self.limits.min_face_pixels} "
                                  "px is needed). Use a closer or larger photo.")
        return align_face(portrait, face, settings.size)

    def read_inputs(self, portrait: str | os.PathLike | np.ndarray | Image.Image, audio: str | os.PathLike,
                    timings: Timings) -> tuple[np.ndarray, AudioClip, list[str]]:
        """The portrait (H, W, 3) uint8, the decoded speech and what to tell the user about them."""
        notices = list(self.notices)
        with timings("load"):
            image, image_notices = load_image(portrait, self.limits)
            clip = load_audio(audio, self.limits)
        notices += image_notices
        if not np.any(np.abs(clip.samples) > 1e-3):
            notices.append("The audio is silent: the video shows idle motion with the mouth closed.")
        return image, clip, notices

    def read_driving(self, portrait: str | os.PathLike | np.ndarray | Image.Image, driving_video: str | os.PathLike | DrivingVideo,
                     timings: Timings, report: Progress) -> tuple[np.ndarray, AudioClip, list[str], MotionEstimator]:
        """The portrait (H, W, 3) uint8 and a driving video (read here unless it was already): its soundtrack,
        what to tell the user, and the motion stage its face drives (`frond.motion.video`)."""
        notices = list(self.notices)
        with timings("load"):
            image, image_notices = load_image(portrait, self.limits)
        with timings("driving"):
            driving = driving_video if isinstance(driving_video, DrivingVideo) else read_driving_video(
                driving_video, self.landmarks, self.limits, lambda f: report(0.03 * f, "reading the driving video's face"))
        notices += image_notices
        if not driving.has_sound:
            notices.append("The driving video has no soundtrack: the output is silent.")
        return image, driving.audio, notices, VideoMotionEstimator(driving)

    @contextlib.contextmanager
    def outputs(self, out_path: str | os.PathLike, clip: AudioClip, face: AlignedFace, framing: Framing,
                settings: GenerationSettings, intermediates_dir: str | os.PathLike | None
                ) -> Iterator[tuple[VideoWriter, IntermediatesWriter | None]]:
        """The MP4 being written (its soundtrack encodes on a thread from now on) and the intermediates'
        writer, if asked for. Leaving the block finishes every file, or removes them all on an error."""
        with contextlib.ExitStack() as stack:
            stack.enter_context(threadpool_limits(1, user_api="blas"))  # small solves: threads only cost
            video = stack.enter_context(VideoWriter(out_path, framing.width, framing.height, settings.fps,
                                                    audio_path=clip.path, threaded=True, crf=OUTPUT_CRF))
            intermediates = None if intermediates_dir is None else stack.enter_context(
                IntermediatesWriter(intermediates_dir, face, framing, settings.fps, clip.path, settings.size,
                                    still_field=self.stages.field.frames(face.keypoints[None], np.zeros((1, 3), np.float32))[0]))
            yield video, intermediates

    def write_frames(self, motion: MotionSequence, framing: Framing, video: VideoWriter,
                     intermediates: IntermediatesWriter | None, timings: Timings, report: Progress) -> None:
        """Stages 3 and 4 frame by frame (`render`), each frame into the video (and the intermediates)."""
        n_frames = motion.n_frames
        for i, (field, frame) in enumerate(self.render(motion, framing.paste, timings)):
            with timings("encode"):
                video.write(frame)
            if intermediates is not None:
                with timings("intermediates"):
                    intermediates.write(field, frame, motion.keypoints[i])
            if i % 10 == 0 or i == n_frames - 1:
                report(0.12 + 0.86 * (i + 1) / n_frames, f"rendering frames ({i + 1}/{n_frames})")

    def generate(self, portrait: str | os.PathLike | np.ndarray | Image.Image, audio: str | os.PathLike | None,
                 out_path: str | os.PathLike, settings: GenerationSettings = GenerationSettings(),
                 intermediates_dir: str | os.PathLike | None = None, progress: Progress | None = None,
                 driving_video: str | os.PathLike | DrivingVideo | None = None) -> GenerationResult:
        """Portrait (path, PIL image or (H, W, 3) array) + audio (path) -> the MP4 at `out_path`.

        Reenactment: with `driving_video` (a path, or a video `frond.motion.video.read_driving_video` read)
        and no `audio`, the video's face drives the portrait and its soundtrack is the output's.
        Bad input raises `FrondInputError`; nothing is left at `out_path` on failure.
        """
        started = time.perf_counter()
        report = progress or (lambda fraction, stage: None)
        timings = Timings()
        if (audio is None) == (driving_video is None):
            raise FrondInputError("Give speech or a driving video, not both: a driving video brings its own soundtrack."
                                  if audio is not None else "Give speech (an audio file) or a driving video.")
        driving_path = driving_video.path if isinstance(driving_video, DrivingVideo) else driving_video
        check_paths(out_path, (portrait, audio, driving_path), intermediates_dir)  # before any work: never overwrite an input
        stale = remove_stale_parts(out_path)  # left by runs killed outright (SIGKILL, out of memory)
        if audio is not None:
            report(0.0, "reading the portrait and the audio")
            image, clip, notices = self.read_inputs(portrait, audio, timings)
            motion_stage = self.motion_stage(settings)
        else:
            assert driving_video is not None  # one of the two, checked above
            image, clip, notices, motion_stage = self.read_driving(portrait, driving_video, timings, report)
        notices += stale
        motion_stage.prefetch(clip)  # phones start in a helper process while we do the rest

        report(0.03, "finding the face and its keypoints")
        with timings("face"):  # 1. the encoder: keypoints + global code; stages 3 and 4 prepare for this source
            face = self.find_face(image, settings, notices)
            source = self.stages.encoder.encode(face)
            framing = output_framing(face, settings, self.limits)
            self.stages.field.prepare(face, source, framing.space)
            self.stages.decoder.prepare(face, source, framing.space)
        times = np.arange(max(1, int(round(clip.duration * settings.fps)))) / settings.fps  # frame i shows the voice at i / fps

        with self.outputs(out_path, clip, face, framing, settings, intermediates_dir) as (video, intermediates):
            report(0.08, "estimating motion from " + ("speech" if driving_video is None else "the driving video"))
            with timings("motion"):  # 2. audio -> keypoint trajectories + head pose
                motion = motion_stage.estimate(clip, source.keypoints, times, settings)
            report(0.12, "rendering frames")
            self.write_frames(motion, framing, video, intermediates, timings, report)  # 3. the field, 4. the decoder
            closing = time.perf_counter()
        timings.add("encode", time.perf_counter() - closing)  # leaving the `with` finished every file (or removed them all)
        files = intermediates.finish(motion, source.keypoints) if intermediates is not None else {}
        report(1.0, "done")
        timings["total"] = time.perf_counter() - started  # wall time of this call: what a batch's overhead is measured against
        ran = replace(self.stages, motion=motion_stage)
        return GenerationResult(video_path=Path(out_path), duration=motion.n_frames / settings.fps, n_frames=motion.n_frames,
                                fps=settings.fps, width=framing.width, height=framing.height, motion=motion, aligned=face,
                                modes={name: stage.name for name, stage in ran.items()},
                                stage_weights={name: stage.weights for name, stage in ran.items()},
                                timings=dict(timings), intermediates=files, notices=notices)

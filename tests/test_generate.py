"""End to end: portrait + speech -> MP4, checked by re-detecting landmarks on the output."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from frond import FrondPipeline, GenerationSettings
from frond.face.ibug import mouth_opening
from frond.face.landmarks import detect_faces
from frond.media import load_audio, probe_video, read_video_frames

from .conftest import run_cli


def measured_opening(video: Path) -> np.ndarray:
    """Mouth opening per frame of a video, NaN where no face is found."""
    out = []
    for frame in read_video_frames(video):
        faces = detect_faces(frame, backend="mediapipe")
        out.append(float(mouth_opening(faces[0].landmarks)) if faces else np.nan)
    return np.array(out)


@pytest.fixture(scope="module")
def pipeline() -> FrondPipeline:
    return FrondPipeline(landmarks="mediapipe")


@pytest.fixture(scope="module")
def paused_run(pipeline, portrait, speech_with_pauses, tmp_path_factory):
    audio, span = speech_with_pauses
    out = tmp_path_factory.mktemp("gen") / "paused.mp4"
    result = pipeline.generate(portrait.parent / "grace_hopper.jpg", audio, out, GenerationSettings(size=256, seed=3, framing="crop"))
    return result, span, measured_opening(out)


def test_streams_duration_and_format(paused_run, speech_with_pauses):
    result, _, _ = paused_run
    info = probe_video(result.video_path)
    audio_seconds = load_audio(speech_with_pauses[0]).duration
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert info["pix_fmt"] == "yuv420p" and info["width"] == 256 and info["height"] == 256
    assert abs(info["frames"] / 25.0 - audio_seconds) <= 1 / 25
    assert abs(info["audio_duration"] - audio_seconds) < 0.05


def test_mouth_opens_in_speech_and_closes_in_silence(paused_run):
    result, (start, end), opening = paused_run
    t = result.motion.times
    speaking = (t > start + 0.1) & (t < end - 0.1)
    silent = (t < start - 0.3) | (t > end + 0.4)
    assert np.isfinite(opening).mean() > 0.95, "the face must stay detectable in every frame"
    assert np.nanmedian(opening[silent]) < 0.05, opening[silent]
    assert np.nanpercentile(opening[speaking], 90) > 0.1  # clearly open on loud syllables
    assert np.nanmean(opening[speaking]) > np.nanmean(opening[silent]) + 0.03
    # and the lips move: several open-close cycles while speaking
    moving = opening[speaking] - np.nanmedian(opening[speaking])
    assert np.sum(np.diff(np.sign(moving[np.isfinite(moving)])) != 0) >= 6


def test_parted_lips_close_in_silence(pipeline, portrait, speech_with_pauses):
    """The astronaut smiles with parted lips (opening ~0.16): her keypoints close in pauses."""
    audio, (start, end) = speech_with_pauses
    clip = load_audio(audio)
    times = np.arange(int(clip.duration * 25)) / 25
    face = pipeline.find_face(np.asarray(__import__("PIL.Image").Image.open(portrait).convert("RGB")), GenerationSettings())
    assert mouth_opening(face.keypoints) > 0.12
    motion = pipeline.stages.motion.estimate(clip, face.keypoints, times, GenerationSettings())
    silent = (times < start - 0.3) | (times > end + 0.4)
    assert np.max(motion.channels["open"][silent]) < 0.03


def test_crop_background_far_from_face_is_unchanged(paused_run):
    result, _, _ = paused_run
    source = result.aligned.image.astype(np.float32)
    patch = 20
    for frame in list(read_video_frames(result.video_path))[::10]:
        diff = np.abs(frame.astype(np.float32) - source)
        corners = [diff[:patch, :patch], diff[:patch, -patch:], diff[-patch:, :patch], diff[-patch:, -patch:]]
        assert max(float(c.mean()) for c in corners) < 4.0  # H.264 noise only


def test_same_seed_same_video_and_other_seed_differs(pipeline, portrait, speech, tmp_path):
    settings = GenerationSettings(size=256, seed=7, framing="crop")
    a = pipeline.generate(portrait, speech, tmp_path / "a.mp4", settings)
    b = pipeline.generate(portrait, speech, tmp_path / "b.mp4", settings)
    c = pipeline.generate(portrait, speech, tmp_path / "c.mp4", settings.updated(seed=8))
    np.testing.assert_array_equal(a.motion.keypoints, b.motion.keypoints)
    for fa, fb in zip(read_video_frames(a.video_path), read_video_frames(b.video_path)):
        np.testing.assert_array_equal(fa, fb)
    assert np.abs(a.motion.head_pose - c.motion.head_pose).max() > 0.2


@pytest.mark.parametrize("settings", [GenerationSettings(size=256, seed=3, framing="crop"),
                                      GenerationSettings(size=256, seed=4, motion="prior")],
                         ids=["crop-learned-motion", "picture-prior-motion"])
def test_generate_is_its_stages_in_order(pipeline, portrait, tmp_path, monkeypatch, settings):
    """`generate` is the four stages called in order, frame for frame: the motion, the fields and the
    frames it writes equal those of the stages called by hand (2 s of speech_2.wav on Grace Hopper,
    with the intermediates on; the first case blinks)."""
    from threadpoolctl import threadpool_limits

    from frond.face.framing import output_framing
    from frond.media import load_image

    from .conftest import read_wav, write_wav

    samples, rate = read_wav(portrait.parent / "speech_2.wav")
    audio = write_wav(tmp_path / "two_seconds.wav", samples[: 2 * rate], rate)
    image = portrait.parent / "grace_hopper.jpg"
    written = keep_frames(monkeypatch)
    result = pipeline.generate(image, audio, tmp_path / "out.mp4", settings, intermediates_dir=tmp_path / "inter")
    monkeypatch.undo()

    clip = load_audio(audio)
    face = pipeline.find_face(load_image(image)[0], settings)
    source = pipeline.stages.encoder.encode(face)  # 1
    framing = output_framing(face, settings, pipeline.limits)
    field, decoder = pipeline.stages.field, pipeline.stages.decoder
    field.prepare(face, source, framing.space)
    decoder.prepare(face, source, framing.space)
    times = np.arange(result.n_frames) / settings.fps
    with threadpool_limits(1, user_api="blas"):  # as in `generate`: more BLAS threads change the last bits
        motion = pipeline.motion_stage(settings).estimate(clip, source.keypoints, times, settings)  # 2
        frames = []
        for start in range(0, result.n_frames, 16):  # the pipeline's chunks
            kp, poses = motion.keypoints[start:start + 16], motion.head_pose[start:start + 16]
            fields = field.frames(kp, poses)  # 3
            frames += [framing.paste(decoder.render(f, k)) for f, k in zip(fields, kp)]  # 4
    np.testing.assert_array_equal(motion.keypoints, result.motion.keypoints)
    np.testing.assert_array_equal(motion.head_pose, result.motion.head_pose)
    saved = np.load(tmp_path / "inter" / "keypoints.npz")
    np.testing.assert_array_equal(saved["keypoints"], motion.keypoints)
    np.testing.assert_array_equal(saved["source_keypoints"], source.keypoints)
    assert len(written["out.mp4"]) == len(frames) == result.n_frames == 50
    assert (result.width, result.height) == (frames[0].shape[1], frames[0].shape[0])
    for by_hand, generated in zip(frames, written["out.mp4"]):
        np.testing.assert_array_equal(by_hand, generated)
    assert {"motion_field.mp4", "overlay.mp4", "side_by_side.mp4"} <= set(written)
    assert all(len(written[name]) == result.n_frames for name in ("motion_field.mp4", "overlay.mp4", "side_by_side.mp4"))


@pytest.mark.parametrize("path", ["learned", "prior"])
def test_settings_change_the_motion(pipeline, portrait, speech, path):
    """Every slider acts on both motion paths, in its documented direction."""
    clip = load_audio(speech)
    times = np.arange(100) / 25
    face = pipeline.find_face(np.asarray(__import__("PIL.Image").Image.open(portrait).convert("RGB")), GenerationSettings())
    motion = pipeline.motion_stage(GenerationSettings(motion=path))

    def run(**kw):
        return motion.estimate(clip, face.keypoints, times, GenerationSettings(motion=path, **kw))

    base, big, still = run(), run(lip_scale=2.0), run(lip_scale=0.0, head_motion=0.0, blink_rate=0.0)
    assert np.std(big.channels["open"]) > 1.5 * np.std(base.channels["open"])
    assert np.std(still.channels["open"]) < 1e-3 and np.abs(still.head_pose).max() < 1e-6
    assert still.channels["blink"].max() == 0 and base.channels["blink"].max() > 0.5  # blink_rate
    smooth, sharp = run(smoothing=1.0), run(smoothing=0.0)
    roughness = lambda m: float(np.mean(np.diff(m.channels["open"], 2) ** 2))  # noqa: E731
    assert roughness(smooth) < 0.5 * roughness(sharp)
    calm = run(head_motion=0.3)
    assert np.std(calm.head_pose) < 0.5 * np.std(base.head_pose)
    other = run(seed=5)
    assert np.abs(other.head_pose - base.head_pose).max() > 0.2  # seed: other idle motion
    np.testing.assert_allclose(other.channels["open"], base.channels["open"], atol=1e-6)  # the same speech, same mouth
    brows = lambda m: float(np.abs(m.keypoints[:, 17:27] - base.keypoints[:, 17:27]).max())  # noqa: E731
    lively, plain = run(expression=2.0), run(expression=0.0)
    assert np.std(lively.channels["brow"]) > 1.5 * np.std(base.channels["brow"]) and np.abs(plain.channels["brow"]).max() < 1e-6
    assert brows(lively) > 0 and brows(plain) > 0  # expression moves the brows ...
    np.testing.assert_allclose(lively.channels["open"], base.channels["open"], atol=1e-6)  # ... and not the mouth


def test_learned_motion_is_the_default_and_says_so(pipeline):
    assert pipeline.modes["motion"].startswith("learned") and pipeline.stage_weights["motion"] == "frond-motion (bundled)"
    assert pipeline.stages.motion.learned and not pipeline.stages.field.learned
    assert pipeline.motion_stage(GenerationSettings()) is pipeline.stages.motion
    prior = pipeline.motion_stage(GenerationSettings(motion="prior"))
    assert prior.name == "training-free prior" and not prior.learned and prior.weights is None


def test_cli_default_framing_with_intermediates(portrait, tmp_path):
    """No framing option: the whole picture as uploaded (Grace Hopper, 512x600, under the 720 px cap)."""
    out = tmp_path / "full.mp4"
    inter = tmp_path / "inter"
    done = run_cli("generate", "--portrait", str(portrait.parent / "grace_hopper.jpg"), "--audio",
                   str(portrait.parent / "speech_2.wav"), "--out", str(out), "--fps", "20",
                   "--save-intermediates", str(inter), "--quiet")
    assert done.returncode == 0, done.stderr
    info = probe_video(out)
    assert (info["width"], info["height"]) == (512, 600)  # the whole portrait, even dimensions
    assert "512x600" in done.stdout
    assert abs(info["frames"] / 20 - load_audio(portrait.parent / "speech_2.wav").duration) <= 1 / 20
    for name in ("keypoints.npz", "trajectories.png", "motion_field.mp4", "overlay.mp4", "aligned.png", "side_by_side.mp4"):
        assert (inter / name).stat().st_size > 1000, name
    data = np.load(inter / "keypoints.npz")
    assert data["keypoints"].shape == (info["frames"], 68, 2) and data["head_pose"].shape[0] == info["frames"]
    assert data["times"].shape == (info["frames"],)


def keep_frames(monkeypatch) -> dict[str, list[np.ndarray]]:
    """Every frame `VideoWriter.write` is given from now on, by the file's name (the frames before x264)."""
    from frond.media import VideoWriter

    written: dict[str, list[np.ndarray]] = {}
    original = VideoWriter.write

    def keep(writer: VideoWriter, frame: np.ndarray) -> None:
        written.setdefault(writer.path.name, []).append(frame.copy())
        original(writer, frame)

    monkeypatch.setattr(VideoWriter, "write", keep)
    return written


@pytest.mark.parametrize("shape", [(800, 1200), (1300, 700), (301, 245)], ids=["wide", "tall", "small-odd"])
def test_default_framing_keeps_the_pictures_shape(pipeline, portrait, tmp_path, shape):
    """With no framing option the video is the picture: its aspect ratio (within 2 %), its long side
    min(its own, 720) px, both sides even (H.264), never enlarged."""
    import cv2

    from .conftest import voiced, write_wav

    height, width = shape
    face = np.asarray(__import__("PIL.Image").Image.open(portrait).convert("RGB"))[20:320, 75:375]  # the astronaut's head
    side = min(height, width)
    canvas = np.full((height, width, 3), 90, np.uint8)
    small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    canvas[(height - side) // 2:(height - side) // 2 + side, (width - side) // 2:(width - side) // 2 + side] = small
    audio = write_wav(tmp_path / "one.wav", voiced(0.6))
    result = pipeline.generate(canvas, audio, tmp_path / "out.mp4", GenerationSettings(seed=1))
    info = probe_video(result.video_path)
    assert (info["width"], info["height"]) == (result.width, result.height)
    assert info["width"] % 2 == 0 and info["height"] % 2 == 0
    assert abs((info["width"] / info["height"]) / (width / height) - 1) < 0.02
    assert max(info["width"], info["height"]) >= min(max(height, width), 720) - 1  # -1: an odd side loses its last pixel
    assert max(info["width"], info["height"]) <= max(min(max(height, width), 720), 2)


def test_default_framing_never_shows_the_fill_beyond_the_picture(pipeline, tmp_path, monkeypatch):
    """A face at the picture's edge, the head turning and shifting: whatever fills the space beyond the
    picture (for bicubic taps and the field's margin) never reaches a frame. Rendered twice, with that
    fill black and then white: the frames are identical."""
    from skimage.data import astronaut

    import frond.imaging

    from .conftest import voiced, write_wav

    image = np.ascontiguousarray(astronaut()[0:360, 178:500])  # the face touches the left edge
    audio = write_wav(tmp_path / "one.wav", voiced(1.2))
    real_extend = frond.imaging.extend
    runs = []
    for value in (0, 255):
        def flat_fill(img, top, bottom, left, right, value=value):
            out = real_extend(img, top, bottom, left, right)
            out[:top] = value
            out[out.shape[0] - bottom:] = value
            out[:, :left] = value
            out[:, out.shape[1] - right:] = value
            return out

        monkeypatch.setattr(frond.imaging, "extend", flat_fill)
        written = keep_frames(monkeypatch)
        result = pipeline.generate(image, audio, tmp_path / f"fill_{value}.mp4", GenerationSettings(seed=2, head_motion=3.0))
        monkeypatch.undo()
        runs.append(written[f"fill_{value}.mp4"])
        assert (result.width, result.height) == (322, 360)
    assert len(runs[0]) == len(runs[1]) == result.n_frames
    moved = 0.0
    for black, white in zip(*runs):
        np.testing.assert_array_equal(black, white)
        moved = max(moved, float(np.abs(black.astype(int) - image.astype(int)).max()))
    assert moved > 30  # the face does move


def test_picture_framing_has_no_seam(pipeline, portrait, speech, tmp_path):
    """The face pasted back into a larger picture: outside the crop's footprint nothing changes,
    and just inside its border the frame still equals the portrait (no visible edge)."""
    import cv2
    from PIL import Image

    face = np.asarray(Image.open(portrait.parent / "grace_hopper.jpg").convert("RGB"))
    rng = np.random.default_rng(0)
    canvas = cv2.GaussianBlur(rng.integers(0, 255, (900, 1100, 3), dtype=np.uint8), (0, 0), 6)
    canvas[150:150 + 600, 300:300 + 512] = face
    result = pipeline.generate(canvas, speech, tmp_path / "full.mp4", GenerationSettings(max_side=1100, seed=1))
    assert (result.width, result.height) == (1100, 900)
    footprint = np.zeros((900, 1100), np.uint8)
    inverse = cv2.invertAffineTransform(result.aligned.crop_from_image)
    cv2.warpAffine(np.ones((256, 256), np.uint8), inverse, (1100, 900), dst=footprint, flags=cv2.INTER_NEAREST)
    inside = cv2.erode(footprint, np.ones((9, 9), np.uint8))
    band = inside - cv2.erode(inside, np.ones((9, 9), np.uint8))
    outside = 1 - cv2.dilate(footprint, np.ones((9, 9), np.uint8))
    frames = list(read_video_frames(result.video_path))
    assert len(frames) == result.n_frames
    moved = 0.0
    for frame in frames[::10]:
        diff = np.abs(frame.astype(np.float32) - canvas.astype(np.float32)).mean(-1)
        noise = diff[outside > 0].mean()  # what H.264 alone changes
        assert noise < 2.5
        assert diff[band > 0].mean() < noise + 1.5
        moved = max(moved, float(diff[inside > 0].max()))
    assert moved > 30  # and the face itself does move


def test_cli_help_explains_every_option():
    done = run_cli("generate", "--help")
    assert done.returncode == 0
    for option in ("--portrait", "--audio", "--out", "--size", "--fps", "--smoothing", "--lip-scale", "--head-motion",
                   "--blink-rate", "--framing", "--max-side", "--seed", "--save-intermediates", "--driving-video"):
        assert option in done.stdout


def driving_clip(path: Path, frames: int = 40, audio: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A driving video the test makes: Grace Hopper's photo turned (roll, up to 8 degrees) and shifted
    (right, up to 25 px) over `frames` frames at 25 fps. Returns the roll (degrees, counter-clockwise as
    OpenCV turns it) and shift (px) of each frame."""
    import cv2

    from frond.media import VideoWriter, load_image

    image, _ = load_image(Path(__file__).resolve().parents[1] / "examples" / "grace_hopper.jpg")
    h, w = image.shape[:2]
    rolls = 8 * np.sin(np.linspace(0, 2 * np.pi, frames))
    shifts = 25 * np.sin(np.linspace(0, np.pi, frames))
    with VideoWriter(path, w, h, 25.0, audio_path=audio) as video:
        for roll, shift in zip(rolls, shifts):
            matrix = cv2.getRotationMatrix2D((w / 2, h / 2), roll, 1.0)
            matrix[0, 2] += shift
            video.write(cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REFLECT))
    return rolls, shifts


def head_track(video: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per frame of a video, re-detected: the eye line's angle (degrees, clockwise in the image) and the eye
    midpoint's x in the first frame's inter-ocular distances, from the first frame."""
    from frond.face.ibug import eye_centres

    rolls, shifts = [], []
    iod = None
    for frame in read_video_frames(video):
        left, right = eye_centres(detect_faces(frame, backend="mediapipe")[0].landmarks.astype(np.float64))
        rolls.append(np.degrees(np.arctan2(*(right - left)[::-1])))
        iod = iod or float(np.linalg.norm(right - left))
        shifts.append((left + right)[0] / 2 / iod)
    return np.array(rolls) - rolls[0], np.array(shifts) - shifts[0]


def test_a_driving_video_moves_the_portraits_head(pipeline, portrait, tmp_path):
    """Reenactment: a video of another face, turning and moving, drives the astronaut. Re-detected in the
    output, her head turns and moves as the driving head does (relative to its first frame, in each face's
    own inter-ocular distances), at the output's frame rate; the driving video's soundtrack is the output's."""
    drive = tmp_path / "drive.mp4"
    driving_clip(drive, audio=portrait.parent / "speech_2.wav")
    result = pipeline.generate(portrait, None, tmp_path / "out.mp4", GenerationSettings(fps=25), driving_video=drive)
    info = probe_video(result.video_path)
    assert info["audio_codec"] == "aac" and result.n_frames == info["frames"] == 40
    assert (info["width"], info["height"]) == (512, 512)  # the astronaut's picture, as uploaded
    assert result.modes["motion"] == "driving video: drive.mp4"
    driving_roll, driving_shift = head_track(drive)
    roll, shift = head_track(result.video_path)
    assert np.abs(driving_roll).max() > 7 and np.abs(driving_shift).max() > 0.3  # the driver does move
    assert np.abs(roll - driving_roll).max() < 1.5, (roll, driving_roll)
    assert np.abs(shift - driving_shift).max() < 0.06, (shift, driving_shift)
    assert np.abs(result.motion.head_pose[:, 2] + np.interp(result.motion.times, np.arange(40) / 25,
                                                             8 * np.sin(np.linspace(0, 2 * np.pi, 40)))).max() < 1.5


def test_cli_driving_video_without_sound_and_with_audio_too(portrait, tmp_path):
    """`--driving-video` with a silent video gives a silent video (and says so), sampled at --fps from the
    driving video by time; with --audio as well it is refused before any work."""
    drive = tmp_path / "silent.mp4"
    driving_clip(drive, frames=30)
    out = tmp_path / "out.mp4"
    done = run_cli("generate", "--portrait", str(portrait.parent / "grace_hopper.jpg"), "--driving-video", str(drive),
                   "--out", str(out), "--fps", "10", "--framing", "crop", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "no soundtrack" in done.stderr
    info = probe_video(out)
    assert info["audio_codec"] is None and info["frames"] == 12 and (info["width"], info["height"]) == (256, 256)
    both = run_cli("generate", "--portrait", str(portrait), "--driving-video", str(drive), "--audio",
                   str(portrait.parent / "speech_2.wav"), "--out", str(tmp_path / "both.mp4"))
    assert both.returncode == 2 and "--audio and --driving-video" in both.stderr
    assert not (tmp_path / "both.mp4").exists()

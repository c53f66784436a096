"""Unit tests of the prior's pieces: phones, trajectories, visemes, the TPS field, the writer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from frond.audio.phones import Phone, recognise_phones
from frond.config import GenerationSettings
from frond.field.tps import ThinPlateSpline
from frond.media import VideoWriter, load_audio
from frond.motion.prior import viseme_targets
from frond.motion.trajectory import Trajectory, stiffness

from .conftest import EXAMPLES, voiced


def test_phones_do_not_depend_on_what_was_decoded_before():
    speech = load_audio(EXAMPLES / "speech_2.wav").samples
    first = recognise_phones(speech, 16000)
    recognise_phones(voiced(3.0, seed=5), 16000)  # something else in between
    assert recognise_phones(speech, 16000) == first
    assert len(first) > 20 and {p.label for p in first} & {"B", "P", "M"}


def test_trajectory_is_continuous_and_any_fps_agrees():
    t = np.linspace(0, 2, 201)
    values = np.stack([np.sin(2 * np.pi * 1.5 * t), (t > 1).astype(float)], 1)
    traj = Trajectory.smooth(t, values, ("a", "b"), lam=stiffness(0.5))
    t25, t50 = (np.arange(50) + 0.5) / 25, (np.arange(100) + 0.5) / 50
    at25, at50 = traj(t25), traj(t50)
    np.testing.assert_allclose(at25[:, 0], np.interp(t25, t50, at50[:, 0]), atol=0.01)  # one motion, any frame rate
    fine = traj(np.linspace(0, 2, 4001))
    assert np.abs(np.diff(fine, axis=0)).max() < 0.01  # no jumps, even across the step
    assert traj.coefficients.shape[1] == 2


def test_stiffer_smoothing_is_smoother():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 3, 301)
    noisy = rng.standard_normal(t.size)
    rough = lambda s: np.mean(np.diff(Trajectory.smooth(t, noisy, ("x",), lam=stiffness(s))(t)[:, 0], 2) ** 2)  # noqa: E731
    assert rough(1.0) < rough(0.5) < rough(0.0)


def test_smoothing_spline_is_scipys_make_smoothing_spline():
    """The banded Reinsch solve finds the same spline as scipy's reference, 100 samples a second, uneven weights."""
    from scipy.interpolate import make_smoothing_spline

    rng = np.random.default_rng(1)
    t = np.arange(1500) / 100.0
    values = rng.standard_normal((t.size, 2)).cumsum(0) * 0.1
    weights = rng.uniform(0.5, 3.0, (t.size, 2))
    ours = Trajectory.smooth(t, values, ("a", "b"), weights, lam=stiffness(0.5))
    fine = np.linspace(0, t[-1], 4001)
    for c in range(2):
        reference = make_smoothing_spline(t, values[:, c], w=weights[:, c], lam=stiffness(0.5))
        np.testing.assert_allclose(ours(fine)[:, c], reference(fine), atol=1e-5)


def test_uniform_bspline_sample_is_basis_times_coefficients():
    from frond.motion.trajectory import UniformBSpline

    spline = UniformBSpline(25.0)
    n = spline.n_control(3.0)
    coefficients = np.random.default_rng(2).standard_normal((n, 4))
    times = np.linspace(-0.2, 3.3, 333)  # past both ends too
    np.testing.assert_allclose(spline.sample(times, coefficients), spline.basis(times, n) @ coefficients, atol=1e-12)


def test_head_rotation_of_all_frames_at_once_is_each_frames_rigid_motion():
    """Every frame's points turned about the pivot by Rz(roll) Rx(pitch) Ry(yaw) (scipy's extrinsic "yxz"),
    projected, then shifted by the pose's shift in inter-ocular distances."""
    from scipy.spatial.transform import Rotation

    from frond.face.head import HeadGeometry, keypoint_depth
    from frond.train.synthetic import face_keypoints

    source = face_keypoints(0.05).astype(np.float64)
    geometry = HeadGeometry(source)
    depth = keypoint_depth(geometry, source)
    rng = np.random.default_rng(3)
    poses = rng.normal(0.0, [8.0, 6.0, 5.0, 0.1, 0.1], (7, 5))
    points = source[None] + rng.normal(0.0, 0.01, (7, 68, 2))
    expected = []
    for k, pose in zip(points, poses):
        turn = Rotation.from_euler("yxz", pose[:3], degrees=True).as_matrix()
        p3 = np.concatenate([k, depth[:, None]], axis=1) - geometry.pivot
        expected.append((p3 @ turn.T + geometry.pivot)[:, :2] + geometry.iod * pose[3:5])
    np.testing.assert_allclose(geometry.rotate_frames(points, poses, depth), np.stack(expected), atol=1e-12)
    np.testing.assert_allclose(geometry.rotate(points[2], poses[2], depth), expected[2], atol=1e-12)
    assert np.abs(np.stack(expected) - points).max() > 0.05  # the poses do move the points


def test_the_rigid_fit_reads_back_the_motion_that_moved_a_face_even_past_three_quarters():
    """A face moved frame by frame by known poses under the renderer's head model, read back by `fit_poses`
    (as a driving video is read): the same turns and shifts, including 50-degree turns where the crude
    landmark estimate that starts the fit has folded over."""
    from frond.face.head import HeadGeometry, fit_poses, head_pose_from_keypoints, keypoint_depth, to_face_frame
    from frond.train.synthetic import face_keypoints

    pixels = face_keypoints(0.05).astype(np.float64) * 180.0 + [320.0, 240.0]
    face = to_face_frame(pixels, pixels)
    geometry = HeadGeometry(face)
    depth = keypoint_depth(geometry, face)
    rng = np.random.default_rng(5)
    poses = np.concatenate([rng.normal(0.0, [12.0, 6.0, 5.0, 0.1, 0.1], (24, 5)),
                            [[50.0, 0.0, 3.0, 0.05, 0.0], [-50.0, 5.0, -3.0, 0.0, 0.05]]])
    frames = geometry.rotate_frames(np.broadcast_to(face, (len(poses), 68, 2)), poses, depth)
    assert np.abs(head_pose_from_keypoints(frames[-2:])[:, 0]).min() > 60  # where the crude estimate folds
    fitted = fit_poses(face, frames)
    np.testing.assert_allclose(fitted[:, :3], poses[:, :3], atol=0.5)  # degrees
    np.testing.assert_allclose(fitted[:, 3:], poses[:, 3:], atol=0.01)  # inter-ocular distances


def test_a_driving_faces_jitter_leaves_the_portrait_still_and_its_expression_moves_it():
    """Reenactment's deadband: a driver whose landmarks only jitter (under the deadband) leaves the portrait's
    keypoints exactly still; a driver who opens the mouth opens the portrait's by as much, less the deadband."""
    from frond.face.ibug import inter_ocular, mouth_opening
    from frond.motion.video import EXPRESSION_DEADBAND, DrivingVideo, LandmarkTrack, VideoMotionEstimator, deadband
    from frond.train.synthetic import face_keypoints
    from frond.types import AudioClip

    offsets = np.array([[0.003, 0.004], [0.0, 0.0], [0.06, -0.08]])
    np.testing.assert_allclose(deadband(offsets, 0.01), [[0.0, 0.0], [0.0, 0.0], [0.054, -0.072]], atol=1e-12)

    source = face_keypoints(0.0).astype(np.float64)
    pixels = lambda k: k * 150.0 + [320.0, 240.0]  # noqa: E731  (the driving video's pixels)
    n, rng = 30, np.random.default_rng(4)
    frames = np.stack([pixels(face_keypoints(0.0))] * n)
    iod = float(inter_ocular(frames[0]))
    frames[1:] += rng.uniform(-1, 1, frames[1:].shape) * 0.002 * iod  # jitter, well under the deadband
    frames[20:] = pixels(face_keypoints(0.3))  # then the mouth opens
    track = LandmarkTrack(times=np.arange(n) / 25.0, landmarks=frames, raw=frames, size=(480, 640))
    silent = AudioClip(samples=np.zeros(19200, np.float32), sample_rate=16000, duration=1.2)
    stage = VideoMotionEstimator(DrivingVideo(path=Path("drive.mp4"), fps=25.0, track=track, audio=silent))
    motion = stage.estimate(silent, source, track.times, GenerationSettings(head_motion=0.0))
    np.testing.assert_allclose(motion.keypoints[:20], np.broadcast_to(source, (20, 68, 2)), atol=1e-6)
    asked = mouth_opening(pixels(face_keypoints(0.3))) - mouth_opening(pixels(face_keypoints(0.0)))
    opened = mouth_opening(motion.keypoints[25]) - mouth_opening(source)
    assert asked - 2 * EXPRESSION_DEADBAND - 1e-3 < opened < asked + 1e-3 and opened > 0.1


def test_bilabials_close_the_mouth_and_vowels_open_it():
    grid = np.arange(0, 1, 0.01)
    phones = [Phone("SIL", 0, 0.2), Phone("AA", 0.2, 0.45), Phone("M", 0.45, 0.6), Phone("AA", 0.6, 0.85), Phone("SIL", 0.85, 1)]
    targets, weights, closure = viseme_targets(phones, grid)
    assert targets[30, 0] > 0.8 and targets[52, 0] == 0.0 and targets[5, 0] == 0.0
    assert closure[52] == 1.0 and closure[30] == 0.0
    assert weights[52] > weights[30]  # bilabials dominate their neighbours


def test_tps_interpolates_its_controls_and_is_smooth():
    rng = np.random.default_rng(1)
    controls = rng.uniform(-1, 1, (30, 2))
    values = controls + 0.05 * rng.standard_normal((30, 2))
    spline = ThinPlateSpline(controls, values, regularisation=0.0)
    np.testing.assert_allclose(spline(controls), values, atol=1e-4)
    identity = ThinPlateSpline(controls, controls, regularisation=0.0)
    pts = rng.uniform(-1, 1, (100, 2))
    np.testing.assert_allclose(identity(pts), pts, atol=1e-4)  # no motion -> the identity map


def test_writer_leaves_nothing_behind_on_error(tmp_path):
    out = tmp_path / "x.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, 64, 64, 25, threaded=True) as writer:
            for _ in range(5):
                writer.write(np.zeros((64, 64, 3), np.uint8))
            raise RuntimeError("boom")
    assert not out.exists() and not list(tmp_path.iterdir())
    with pytest.raises(ValueError):
        VideoWriter(out, 63, 64, 25)


def test_settings_are_validated():
    with pytest.raises(ValueError):
        GenerationSettings(size=300)
    with pytest.raises(ValueError):
        GenerationSettings(lip_scale=-1)
    assert GenerationSettings().updated(seed=4, unknown=1).seed == 4


def test_phone_worker_gives_the_same_phones_and_falls_back(monkeypatch):
    from frond.audio.phone_worker import PhoneSource, PhoneWorker
    from frond.motion.prior import PriorMotionEstimator
    from frond.types import AudioClip

    speech = load_audio(EXAMPLES / "speech_2.wav")
    worker = PhoneWorker()
    try:
        assert worker.submit(speech.samples).result(timeout=120) == recognise_phones(speech.samples, 16000)
        estimator = PriorMotionEstimator(source=PhoneSource(worker))
        estimator.prefetch(speech)
        phones, how = estimator.phones(speech)
        assert phones and "pocketsphinx" in how
        # a dead worker: the estimator decodes in-process instead, with the same result
        worker._process.kill()
        worker._process.wait()
        monkeypatch.setattr(worker, "_ensure", lambda: (_ for _ in ()).throw(RuntimeError("no worker")))
        assert worker.submit(speech.samples.copy()).result() == phones  # the same samples: the earlier answer, not a new request
        other = speech.samples + 1e-3 * np.random.default_rng(0).standard_normal(speech.samples.size).astype(np.float32)
        clip = AudioClip(samples=other, sample_rate=16000, duration=speech.duration)  # new samples: a new request fails
        estimator.prefetch(clip)
        again, how = estimator.phones(clip)
        assert again == recognise_phones(other, 16000) and "pocketsphinx" in how
    finally:
        monkeypatch.undo()
        worker.close()


def test_field_never_folds_even_on_blinks_and_closed_lips(portrait):
    """Eyelids and lips that meet must not make the spline singular: the map stays one-to-one."""
    from PIL import Image

    from frond.face.framing import output_framing
    from frond.pipeline import FrondPipeline

    pipe = FrondPipeline()
    settings = GenerationSettings(blink_rate=3.0, seed=2, framing="crop")
    face = pipe.find_face(np.asarray(Image.open(EXAMPLES / "grace_hopper.jpg").convert("RGB")), settings)
    clip = load_audio(EXAMPLES / "speech_2.wav")
    times = (np.arange(int(clip.duration * 25)) + 0.5) / 25
    motion = pipe.stages.motion.estimate(clip, face.keypoints, times, settings)
    assert motion.channels["blink"].max() > 0.95  # the lids really close in some frames
    space = output_framing(face, settings, pipe.limits).space
    field = pipe.stages.field
    field.prepare(face, pipe.stages.encoder.encode(face), space)
    for f in field.frames(motion.keypoints, motion.head_pose):
        grid = f.dense()
        jx = np.diff(grid, axis=1)[:-1]  # d(map)/dx
        jy = np.diff(grid, axis=0)[:, :-1]  # d(map)/dy
        det = jx[..., 0] * jy[..., 1] - jx[..., 1] * jy[..., 0]
        identity_step = 2.0 / space.width
        # where lids or lips close the map compresses to a line (det -> 0), but never flips or explodes;
        # inside a wide-open mouth (occluded: the decoder paints the interior there) the map is not shown
        shown = f.occlusion[:-1, :-1] < 0.5
        assert det[shown].min() > -0.2 * identity_step ** 2, "the field folds"
        assert np.abs(jx).max() < 20 * identity_step and np.abs(jy).max() < 20 * identity_step


def test_pause_gate_rests_the_mouth_in_pauses_only():
    from frond.motion.learned import pause_gate

    rate = 16000
    speech = voiced(1.0, rate)
    dip = np.zeros(int(0.08 * rate), np.float32)  # a short dip between syllables
    pause = np.zeros(int(0.8 * rate), np.float32)
    samples = np.concatenate([speech, dip, speech, pause, speech])
    t = np.arange(0, samples.size / rate, 0.04)
    gate = pause_gate(samples, rate, t, threshold=0.2)
    in_pause = (t > 2.08 + 0.15) & (t < 2.88 - 0.15)
    assert gate[in_pause].max() < 0.05
    in_dip = (t > 1.0) & (t < 1.08)
    assert gate[in_dip].min() > 0.9
    assert gate[(t > 0.3) & (t < 0.7)].min() > 0.95


def test_mel_features_do_not_depend_on_recording_level():
    from frond.audio.mel import speech_mel

    speech = voiced(1.5)
    loud, quiet = speech_mel(speech), speech_mel(0.05 * speech)
    assert loud.shape[0] == 80 and abs(loud.shape[1] - 151) <= 1
    np.testing.assert_allclose(loud, quiet, atol=0.02)
    assert loud.max() > 0.0 and loud.min() >= -3.0


def test_ibug_left_and_right_are_the_images(portrait):
    """36-41 is the eye on the image's left (the subject's right eye), 42-47 the other: one convention everywhere."""
    from PIL import Image

    from frond.face import ibug
    from frond.face.landmarks import detect_faces

    face = detect_faces(np.asarray(Image.open(portrait).convert("RGB")))[0].landmarks
    left, right = ibug.eye_centres(face)
    assert left[0] < right[0]
    assert face[ibug.IMAGE_LEFT_EYE, 0].max() < face[ibug.IMAGE_RIGHT_EYE, 0].min()
    assert ibug.inter_ocular(face) == pytest.approx(float(np.linalg.norm(right - left)))
    corner_left, corner_right = ibug.MOUTH_CORNERS
    assert face[corner_left, 0] < face[corner_right, 0]
    width = float(np.linalg.norm(face[corner_right] - face[corner_left]))
    assert ibug.mouth_width(face) == pytest.approx(width / float(np.linalg.norm(right - left)))
    assert 0.5 < ibug.mouth_width(face) < 1.5  # a mouth is about as wide as the eyes are apart


def test_opening_limit_is_soft_and_only_above_the_knee():
    from frond.motion import articulation as art
    from frond.motion.learned import OPEN_KNEE, OPEN_LIMIT, limit_opening

    direction = np.zeros(art.DIM)
    lower = int(np.flatnonzero(art.POINTS == 66)[0])
    direction[2 * lower + 1] = 1.0  # the lower inner lip drops: the gap grows by 1 per unit
    gaps = np.linspace(0.0, 0.9, 46)
    limited = art.opening_of(limit_opening(gaps[:, None] * direction[None]))
    below = gaps <= OPEN_KNEE
    np.testing.assert_allclose(limited[below], gaps[below], atol=1e-9)  # ordinary speech is untouched
    assert np.all(np.diff(limited) > 0)  # still monotone: a wider vowel stays wider
    assert limited.max() < OPEN_LIMIT

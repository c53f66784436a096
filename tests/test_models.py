"""The learned FROND networks: shapes, trajectories, save/load, stage adapters, bench."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from frond.config import GenerationSettings
from frond.errors import FrondInputError
from frond.face.head import head_pose_from_keypoints
from frond.motion import articulation as art
from frond.motion.learned import load_motion_net, n_phone_features
from frond.motion.trajectory import UniformBSpline, pspline_stiffness
from frond.nn.config import FrondConfig
from frond.train.synthetic import astronaut_face, face_keypoints
from frond.types import AlignedFace, AudioClip, FaceDetection, FieldFrame, MotionSequence, OutputSpace, SourceEncoding
from frond.weights import load_learned_stages
from frond.weights.model import FrondModel

torch.set_num_threads(1)


def _model(seed: int = 0, stages=("render", "motion")) -> FrondModel:
    torch.manual_seed(seed)
    model = FrondModel(FrondConfig.tiny(64))
    with torch.no_grad():  # move off the zero-initialised heads so outputs depend on every module
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    model.config.trained_stages = list(stages)
    return model.eval()


def _inputs(b: int = 2, size: int = 64):
    g = torch.Generator().manual_seed(1)
    img = torch.rand(b, 3, size, size, generator=g) * 2 - 1
    kp = torch.from_numpy(face_keypoints(0.1))[None].repeat(b, 1, 1)
    drv = torch.from_numpy(face_keypoints(0.3))[None].repeat(b, 1, 1) + 0.02
    pose = torch.from_numpy(head_pose_from_keypoints(kp.numpy()))
    return img, kp, drv, pose


def test_reconstruct_named_outputs_and_any_resolution():
    model = _model()
    img, kp, drv, pose = _inputs()
    out = model.reconstruct(img, kp, pose, drv, pose)
    assert out["image"].shape == (2, 3, 64, 64)
    assert out["grid"].shape == (2, 64, 64, 2) and out["occlusion"].shape == (2, 64, 64)
    assert out["global_code"].shape == (2, model.config.encoder.global_dim)
    assert out["weights"].shape[1] == 68 + 2
    big = model.reconstruct(img, kp, pose, drv, pose, out_hw=(96, 80))  # implicit: other resolutions
    assert big["image"].shape == (2, 3, 96, 80)
    assert torch.isfinite(big["image"]).all()


def test_identity_motion_is_close_to_the_source_at_init():
    model = FrondModel(FrondConfig.tiny(64)).eval()
    img, kp, _, pose = _inputs()
    out = model.reconstruct(img, kp, pose, kp, pose)
    assert (out["image"] - img).abs().mean() < 0.1


def test_predict_motion_shapes_and_any_fps():
    model = _model()
    mel = torch.randn(2, model.config.motion.n_mels, 201)  # 2 s
    out25 = model.predict_motion(mel, torch.arange(50) / 25.0)
    out30 = model.predict_motion(mel, torch.arange(60) / 30.0)
    assert out25["articulation"].shape == (2, 50, art.DIM)
    assert out25["coefficients"].shape == (2, 25 * 2 + 3, model.config.motion.components)
    # the same continuous trajectory, sampled at two rates: equal at the shared instants (t = 0, 0.2, 0.4 ...)
    assert torch.allclose(out25["articulation"][:, ::5], out30["articulation"][:, ::6], atol=1e-5)


def test_bspline_partition_of_unity_and_stiffness():
    spline = UniformBSpline(25.0)
    n = spline.n_control(2.0)
    basis = spline.basis(np.linspace(0, 2.0, 101), n)
    assert np.allclose(basis.sum(1), 1.0, atol=1e-6)
    coeffs = np.random.default_rng(0).standard_normal((n, 3))
    rough = np.abs(np.diff(coeffs, 2, axis=0)).mean()
    assert np.abs(np.diff(spline.stiffen(coeffs, 10.0), 2, axis=0)).mean() < 0.3 * rough
    assert np.array_equal(spline.stiffen(coeffs, 0.0), coeffs)
    assert pspline_stiffness(0.0, 1.0) == 0.0 and pspline_stiffness(0.5, 1.0) == pytest.approx(1.0)


def test_numpy_motion_runtime_equals_the_torch_network(tmp_path):
    """The default path runs the motion network without torch: same numbers as the trained module."""
    model = _model(stages=("motion",))
    with torch.no_grad():
        model.motion.basis.normal_()
        model.motion.mean.normal_()
    model.save_pretrained(tmp_path)
    net = load_motion_net(tmp_path)
    rng = np.random.default_rng(2)
    mel = rng.standard_normal((model.config.motion.n_mels, 157)).astype(np.float32)
    phones = rng.uniform(0, 1, (n_phone_features(model.config.motion), 157)).astype(np.float32)
    times = np.arange(39) / 25.0
    with torch.no_grad():
        expected = model.predict_motion(torch.from_numpy(mel)[None], torch.from_numpy(times).float(), stiffness=2.0,
                                        phones=torch.from_numpy(phones)[None], gain=net.gain, width_gain=net.width_gain)
    assert net.uses_phones
    coefficients = net.outputs(mel, phones)[:, :net.components]
    np.testing.assert_allclose(coefficients, expected["coefficients"][0].numpy(), atol=1e-4)
    np.testing.assert_allclose(net.articulation(coefficients, times, 2.0), expected["articulation"][0].numpy(), atol=1e-4)
    assert net.head  # the global stream: the same mean and log-spread of the head's pose
    head = net.outputs(mel, phones)[:, net.components:]
    np.testing.assert_allclose(head, expected["head"][0].numpy(), atol=1e-4)


def test_learned_head_motion_is_seeded_scaled_and_as_large_as_its_units(tmp_path):
    """One plausible head motion per seed (same seed, same motion), scaled by head_motion (0: still), whose
    spread follows the predicted spread in the fitted units, with the fitted process's slowness."""
    from frond.face.head import POSE_AXES
    from frond.motion.global_stream import fit_unit_process, unit_process

    model = _model(stages=("motion",))
    rng = np.random.default_rng(0)
    slow = [np.cumsum(rng.standard_normal((300, len(POSE_AXES))), 0) * 0.1 for _ in range(4)]  # a random walk: slow
    units = model.motion.fit_head([t * [3.0, 2.0, 2.0, 0.05, 0.05] for t in slow])
    assert units["scale"][0] > units["scale"][3]  # degrees against inter-ocular distances
    model.save_pretrained(tmp_path)
    net = load_motion_net(tmp_path)
    outputs = np.zeros((250, net.components + 2 * len(POSE_AXES)), np.float32)  # mean 0, log-spread 0: spread 1 unit
    times = np.arange(250) / 25.0
    a = net.head_pose(outputs, times, 0.0, 1.0, np.random.default_rng(5))
    b = net.head_pose(outputs, times, 0.0, 1.0, np.random.default_rng(5))
    c = net.head_pose(outputs, times, 0.0, 1.0, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.allclose(a[0], 0.0)  # the first frame is the portrait's own pose
    np.testing.assert_allclose(a.std(0) / np.asarray(units["scale"]), 1.0, rtol=0.35)
    assert np.abs(net.head_pose(outputs, times, 0.0, 0.0, np.random.default_rng(5))).max() == 0.0
    from frond.motion.learned import HEAD_LIMITS, limit_pose

    unlimited = np.asarray(HEAD_LIMITS) * np.arctanh(a / np.asarray(HEAD_LIMITS))  # the soft limit undone
    np.testing.assert_allclose(net.head_pose(outputs, times, 0.0, 2.0, np.random.default_rng(5)), limit_pose(2 * unlimited),
                               rtol=1e-4, atol=1e-5)
    import dataclasses

    turned = dataclasses.replace(net, yaw_gain=2.0).head_pose(outputs, times, 0.0, 1.0, np.random.default_rng(5))
    np.testing.assert_allclose(turned[:, 0], limit_pose(2 * unlimited)[:, 0], rtol=1e-4, atol=1e-5)  # the turn only
    np.testing.assert_allclose(turned[:, 1:], a[:, 1:], rtol=1e-6, atol=1e-7)
    quiet = outputs.copy()
    quiet[:, net.components + len(POSE_AXES):] = np.log(0.25)
    assert net.head_pose(quiet, times, 0.0, 1.0, np.random.default_rng(5)).std() < 0.3 * a.std()
    # the unit process moves as slowly as the tracks it was fitted on: little power above 2 Hz
    spectrum, mix = fit_unit_process(slow, 25.0)
    draw = unit_process(1000, 25.0, spectrum, mix, np.random.default_rng(1))
    assert np.abs(np.diff(draw, axis=0)).mean() < 0.3 * np.abs(np.diff(rng.standard_normal((1000, 5)), axis=0)).mean()


def test_a_portrait_turned_from_the_camera_moves_its_head_more_and_a_frontal_one_less(tmp_path):
    """The calibrated facing gain: the config's per-axis slope and pivot reach the numpy twin; a portrait at the
    pivot moves exactly as without it, a turned one more, a frontal one less, an axis without a slope as before;
    the factor is bounded; weights without the calibration (an older config.json) move every portrait alike."""
    import dataclasses

    from frond.face.head import POSE_AXES
    from frond.motion.global_stream import FACING_LIMITS, facing, facing_gain

    model = _model(stages=("motion",))
    rng = np.random.default_rng(0)
    model.motion.fit_head([np.cumsum(rng.standard_normal((300, len(POSE_AXES))), 0) * 0.1 for _ in range(4)])
    model.config.motion.facing_slope, model.config.motion.facing_pivot = (0.05, 0.0, 0.03, 0.02, 0.02), 12.0
    model.save_pretrained(tmp_path)
    net = load_motion_net(tmp_path)
    assert net.facing_slope == pytest.approx((0.05, 0.0, 0.03, 0.02, 0.02)) and net.facing_pivot == 12.0
    outputs = np.zeros((250, net.components + 2 * len(POSE_AXES)), np.float32)
    times = np.arange(250) / 25.0
    pose = {x: net.head_pose(outputs, times, 0.0, 1.0, np.random.default_rng(5), x) for x in (0.0, 12.0, 25.0)}
    plain = net.head_pose(outputs, times, 0.0, 1.0, np.random.default_rng(5))
    np.testing.assert_allclose(pose[12.0], plain, atol=1e-6)  # the pivot: the calibration's motion
    assert pose[25.0][:, 0].std() > 1.3 * plain[:, 0].std() > 1.3 ** 2 * pose[0.0][:, 0].std()  # turned: more; frontal: less
    np.testing.assert_allclose(pose[25.0][:, 1], plain[:, 1], atol=1e-6)  # pitch has no slope
    assert facing_gain(90.0, np.full(5, 1.0), 0.0) == pytest.approx(np.full(5, FACING_LIMITS[1]))  # bounded
    old = dataclasses.replace(net, facing_slope=(0.0,) * 5, facing_pivot=0.0)  # weights calibrated before it existed
    np.testing.assert_allclose(old.head_pose(outputs, times, 0.0, 1.0, np.random.default_rng(5), 25.0), old.head_pose(
        outputs, times, 0.0, 1.0, np.random.default_rng(5), 0.0))
    from frond.face.head import HeadGeometry  # a portrait turned 20 degrees reads about that far turned

    frontal = face_keypoints(0.0)
    assert facing(frontal) < 3.0
    assert 12.0 < facing(HeadGeometry(frontal).rotate(frontal, np.array([20.0, 0.0, 0.0]))) < 30.0


def test_gain_scales_the_vertical_articulation_and_width_gain_the_horizontal(tmp_path):
    """The calibrated gain lifts the opening that the renderer attenuates; widths keep their own scale,
    and a config.json written before width_gain existed keeps meaning one gain for both axes."""
    import dataclasses
    import json

    model = _model(stages=("motion",))
    with torch.no_grad():
        model.motion.basis.normal_()
    model.save_pretrained(tmp_path)
    net = load_motion_net(tmp_path)
    coefficients = np.random.default_rng(3).standard_normal((30, model.config.motion.components))
    times = np.arange(25) / 25.0
    one = dataclasses.replace(net, gain=1.0, width_gain=1.0).articulation(coefficients, times, 1.0) - net.tensors["mean"]
    both = dataclasses.replace(net, gain=1.5, width_gain=None).articulation(coefficients, times, 1.0) - net.tensors["mean"]
    split = dataclasses.replace(net, gain=1.5, width_gain=0.8).articulation(coefficients, times, 1.0) - net.tensors["mean"]
    np.testing.assert_allclose(both, 1.5 * one, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(split[:, 1::2], 1.5 * one[:, 1::2], rtol=1e-4, atol=1e-5)  # y: down the face
    np.testing.assert_allclose(split[:, 0::2], 0.8 * one[:, 0::2], rtol=1e-4, atol=1e-5)  # x: along the eye line
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["motion"]["width_gain"] == 1.0  # new configs: widths unscaled
    del config["motion"]["width_gain"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert load_motion_net(tmp_path).width_gain is None  # older configs: one gain for both axes


def test_the_calibrated_mouth_scale_and_brow_gain_are_a_lip_scale_and_expression_of_their_own():
    """A network's mouth_scale moves the mouth as lip_scale does (both paths of its mouth: the network's and
    the blended prior's), so the slider keeps its meaning: 1 is the calibrated mouth, 0 a still one."""
    import dataclasses

    from frond.audio.phones import recognise_phones
    from frond.media import load_audio
    from frond.motion.idle import envelope_grid
    from frond.registry import BUNDLED_MOTION, VARIANTS
    from frond.stages import LEARNED

    from .conftest import EXAMPLES

    audio = load_audio(EXAMPLES / "speech_1.wav")
    phones = recognise_phones(audio.samples, audio.sample_rate)
    source = face_keypoints(0.05)
    times = np.arange(int(audio.duration * 25)) / 25.0
    net = load_motion_net(BUNDLED_MOTION)
    assert net.mouth_scale > 1.0  # the shipped calibration opens the mouth further than the network alone

    def mouth(mouth_scale: float, lip_scale: float) -> np.ndarray:
        stage = VARIANTS["motion"][LEARNED](dataclasses.replace(net, mouth_scale=mouth_scale), "test")
        outputs = stage.outputs(audio, phones)
        local, _ = stage.local_face(audio, source, times, GenerationSettings(lip_scale=lip_scale), envelope_grid(audio),
                                    phones, outputs)
        return local

    np.testing.assert_allclose(mouth(1.25, 1.0), mouth(1.0, 1.25), atol=1e-6)
    assert np.abs(mouth(1.25, 1.0) - mouth(1.0, 1.0)).max() > 0.01
    still = mouth(1.25, 0.0)[:, art.MOUTH_POINTS]  # the lips at rest (the brows and cheeks still move)
    np.testing.assert_allclose(still, np.broadcast_to(still[:1], still.shape), atol=1e-6)

    # brow_gain is to the brows (the network's and the emphasis raise) what mouth_scale is to the mouth
    assert net.brow_gain > 1.0  # the shipped calibration: the brows as lively as the real speakers'

    def brows(brow_gain: float, expression: float) -> tuple[np.ndarray, np.ndarray]:
        stage = VARIANTS["motion"][LEARNED](dataclasses.replace(net, brow_gain=brow_gain), "test")
        motion = stage.estimate(audio, source, times, GenerationSettings(expression=expression, head_motion=0.0))
        return motion.keypoints[:, 17:27], motion.channels["brow"]

    doubled, one = brows(2.0, 1.0), brows(1.0, 1.0)
    for a, b in zip(doubled, brows(1.0, 2.0)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.std(doubled[1]) == pytest.approx(2 * np.std(one[1]), rel=1e-4) and np.std(one[1]) > 0.02
    assert np.ptp(doubled[0][..., 1], axis=0).mean() > 1.5 * np.ptp(one[0][..., 1], axis=0).mean()
    kept, channel = brows(2.0, 0.0)  # expression 0: still brows whatever the calibration
    np.testing.assert_allclose(kept, np.broadcast_to(kept[:1], kept.shape), atol=1e-6)
    assert np.abs(channel).max() < 1e-6


def test_articulation_moves_only_the_expression_points_and_closes_parted_lips():
    closed, parted = face_keypoints(0.0), face_keypoints(0.3)
    a_parted = art.expression_shape(parted) - art.expression_shape(closed)  # what "parted" adds to this face
    assert art.opening_of(art.expression_shape(parted)) > art.opening_of(art.expression_shape(closed)) + 0.05
    # put the parted articulation on the closed face: the parted mouth comes out
    out = art.apply(closed, a_parted[None], np.zeros(art.DIM))[0]
    np.testing.assert_allclose(out[art.POINTS], parted[art.POINTS], atol=1e-5)
    np.testing.assert_array_equal(out[27:48], closed[27:48])  # the nose and the eyes are not expression points
    # a parted-lips portrait at rest (articulation 0) closes, whatever else it does
    direction = a_parted / art.opening_of(art.expression_shape(parted))  # the closed face's lips meet (gap 0)
    back = art.apply(parted, np.zeros((1, art.DIM)), art.estimate_source(parted, direction))[0]
    np.testing.assert_allclose(back[48:68], closed[48:68], atol=1e-4)
    np.testing.assert_array_equal(back[17:48], parted[17:48])  # brows (this direction has none), nose, eyes untouched


def test_save_pretrained_from_pretrained_identical(tmp_path):
    model = _model(seed=3, stages=("render",))
    model.save_pretrained(tmp_path)
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in tmp_path.iterdir()}
    assert not list(tmp_path.glob("*.bin")) and not list(tmp_path.glob("*.pt"))
    assert json.loads((tmp_path / "config.json").read_text())["trained_stages"] == ["render"]
    assert "not the paper authors' weights" in (tmp_path / "README.md").read_text()
    loaded = FrondModel.from_pretrained(tmp_path)
    assert loaded.config == model.config
    img, kp, drv, pose = _inputs()
    with torch.no_grad():
        a, b = model.reconstruct(img, kp, pose, drv, pose), loaded.reconstruct(img, kp, pose, drv, pose)
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["grid"], b["grid"])
    # only the trained stage's tensors are written
    from safetensors.numpy import load_file

    assert not [k for k in load_file(str(tmp_path / "model.safetensors")) if k.startswith("motion.")]


def _face(size: int = 64) -> AlignedFace:
    image = astronaut_face(size)
    kp = face_keypoints(0.05)
    det = FaceDetection(landmarks=(kp + 1) * size / 2, box=(0, 0, size, size), backend="synthetic")
    return AlignedFace(image=image, keypoints=kp, crop_from_image=np.eye(2, 3), portrait=image, detection=det)


def test_learned_stages_follow_the_protocols(tmp_path):
    _model().save_pretrained(tmp_path)
    stages = load_learned_stages(str(tmp_path))
    assert set(stages) == {"encoder", "motion", "field", "decoder"}
    assert all(s.name == f"learned: {tmp_path}" and s.learned and s.weights == str(tmp_path) for s in stages.values())
    assert stages["decoder"].batched
    face = _face()
    source = stages["encoder"].encode(face)
    kp = source.keypoints
    assert kp.shape == (68, 2) and source.global_code.ndim == 1
    assert source.keypoint_features is not None and source.keypoint_features.shape[0] == 68
    t = np.arange(0, 1.0, 1 / 25)
    sr = 16000
    samples = (0.3 * np.sin(2 * np.pi * 220 * np.arange(sr) / sr) * (np.arange(sr) % 4000 < 2000)).astype(np.float32)
    motion = stages["motion"].estimate(AudioClip(samples=samples, sample_rate=sr, duration=1.0), kp, t, GenerationSettings())
    assert isinstance(motion, MotionSequence)
    assert motion.keypoints.shape == (25, 68, 2) and motion.head_pose.shape == (25, 5)
    still = stages["motion"].estimate(AudioClip(samples=samples, sample_rate=sr, duration=1.0), kp, t,
                                      GenerationSettings(lip_scale=0.0, head_motion=0.0, blink_rate=0.0, expression=0.0))
    assert np.ptp(still.keypoints, axis=0).max() < 1e-6  # a mouth at rest, no head motion, no blinks, still brows
    brows = stages["motion"].estimate(AudioClip(samples=samples, sample_rate=sr, duration=1.0), kp, t,
                                      GenerationSettings(lip_scale=0.0, head_motion=0.0, blink_rate=0.0))
    moved = np.ptp(brows.keypoints, axis=0).max(axis=1) > 1e-4
    assert moved[17:27].any() and not moved[:17].any() and not moved[27:].any()  # expression moves the brows alone
    size = face.size
    crop = np.array([[2.0 / size, 0.0, 1.0 / size - 1.0], [0.0, 2.0 / size, 1.0 / size - 1.0]])
    space = OutputSpace(size, size, out_to_norm=crop, source=face.image, norm_to_source=np.linalg.inv(
        np.vstack([crop, [0, 0, 1]]))[:2])
    field = lambda: stages["field"].frames(motion.keypoints[3:4], motion.head_pose[3:4])[0]  # noqa: E731
    stages["field"].prepare(face, source, space)
    fld = field()
    assert isinstance(fld, FieldFrame) and fld.grid.shape == (size, size, 2) and fld.occlusion.shape == (size, size)
    # the field runs on what the encoder computed (stage 1 -> stage 3): other features, another field
    stages["field"].prepare(face, SourceEncoding(kp, source.global_code, 0 * source.keypoint_features), space)
    assert np.abs(field().grid - fld.grid).max() > 1e-6
    with pytest.raises(ValueError, match="keypoint features"):
        stages["field"].prepare(face, SourceEncoding(kp, source.global_code), space)
    stages["decoder"].prepare(face, source, space)
    frame = stages["decoder"].render(fld, motion.keypoints[3])
    assert frame.shape == (size, size, 3) and frame.dtype == np.uint8
    # a larger output space (full frame): the continuous field is resampled there, identity outside the crop
    wide = OutputSpace(size + 20, size + 40, out_to_norm=crop @ np.array([[1.0, 0, -20], [0, 1.0, -10], [0, 0, 1]]),
                       source=face.image, norm_to_source=space.norm_to_source)
    stages["field"].prepare(face, source, wide)
    big = field()
    assert big.grid.shape == (size + 20, size + 40, 2)
    assert np.allclose(big.grid[0, 0], wide.out_to_norm[:, 2], atol=1e-5)  # outside the crop: the identity
    stages["decoder"].prepare(face, source, wide)
    assert stages["decoder"].render(big, motion.keypoints[3]).shape == (size + 20, size + 40, 3)
    stages["decoder"].prepare(face, source, space)
    # the decoder also takes a field made elsewhere (e.g. the prior's), at another resolution
    ys, xs = np.meshgrid(np.linspace(-1, 1, 40), np.linspace(-1, 1, 40), indexing="ij")
    other = FieldFrame(grid=np.stack([xs, ys], -1).astype(np.float32), occlusion=np.zeros((40, 40), np.float32))
    assert stages["decoder"].render(other, kp).shape == (size, size, 3)
    assert stages["decoder"].render_batch([other, other], np.stack([kp, kp])).shape == (2, size, size, 3)


def test_only_trained_stages_are_returned(tmp_path):
    _model(stages=("motion",)).save_pretrained(tmp_path)
    assert set(load_learned_stages(str(tmp_path))) == {"motion"}


def test_load_errors_are_one_line_input_errors(tmp_path, monkeypatch):
    with pytest.raises(FrondInputError, match="lacks"):
        load_learned_stages(str(tmp_path))  # empty folder
    _model(stages=()).save_pretrained(tmp_path / "untrained")
    with pytest.raises(FrondInputError, match="no trained stage"):
        load_learned_stages(str(tmp_path / "untrained"))
    with pytest.raises(FrondInputError, match="neither a local folder"):
        load_learned_stages("no/such/folder/here")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(FrondInputError, match="Hugging Face Hub") as info:
        load_learned_stages("frond-test/does-not-exist@v1")
    assert "\n" not in str(info.value)


def test_motion_runs_merge_into_an_ensemble_whose_prediction_is_their_mean(tmp_path):
    """scripts/merge_motion_members.py: two runs of the same recipe (other seeds) become one motion stage with
    the members of both, predicting the mean of the two; runs that fitted their data differently are refused."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "merge_motion_members.py"
    spec = importlib.util.spec_from_file_location("merge_motion_members", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    a, b = _model(seed=0, stages=("motion",)), _model(seed=1, stages=("motion",))
    with torch.no_grad():  # the data-fitted tensors (PCA basis, mean, head units) as two runs on one corpus have them
        for (name, pa), (_, pb) in zip(a.motion.named_buffers(), b.motion.named_buffers()):
            pb.copy_(pa)
    a.save_pretrained(tmp_path / "a")
    b.save_pretrained(tmp_path / "b")
    module.merge([tmp_path / "a", tmp_path / "b"]).save_pretrained(tmp_path / "ab")
    nets = [load_motion_net(tmp_path / name) for name in ("a", "b", "ab")]
    each = nets[0].members
    assert [n.members for n in nets] == [each, each, 2 * each]
    rng = np.random.default_rng(0)
    mel = rng.standard_normal((nets[0].n_mels, 200)).astype(np.float32)
    phones = np.zeros((n_phone_features(json.loads((tmp_path / "a" / "config.json").read_text())["motion"]), 200), np.float32)
    single = [n.outputs(mel, phones) for n in nets[:2]]
    assert not np.allclose(single[0], single[1])
    np.testing.assert_allclose(nets[2].outputs(mel, phones), (single[0] + single[1]) / 2, atol=1e-5)
    assert FrondModel.from_pretrained(str(tmp_path / "ab")).config.motion.members == 2 * each  # torch loads it too
    with torch.no_grad():
        next(iter(b.motion.buffers())).add_(1.0)
    b.save_pretrained(tmp_path / "b")
    with pytest.raises(ValueError, match="differently"):
        module.merge([tmp_path / "a", tmp_path / "b"])

"""The quality measures on constructed cases whose answers are known."""
from __future__ import annotations

import math

import numpy as np
import pytest

from frond import metrics


def talking_face(n_frames: int = 60, seed: int = 0) -> np.ndarray:
    """A (T, 68, 2) landmark sequence: a fixed face whose lower inner lip moves."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(80, 180, size=(68, 2))
    base[36:42] = [100, 100]  # right eye centre at (100, 100)
    base[42:48] = [160, 100]  # left eye centre at (160, 100): inter-ocular 60
    base[62] = [130, 170]
    base[66] = [130, 170]
    seq = np.repeat(base[None], n_frames, axis=0)
    opening = 6.0 + 6.0 * np.sin(np.arange(n_frames) * 0.7) + rng.normal(0, 1.0, n_frames)
    seq[:, 66, 1] += np.maximum(opening, 0.0)
    return seq


def test_mouth_opening_is_gap_over_interocular() -> None:
    seq = talking_face(5)
    gap = seq[:, 66, 1] - seq[:, 62, 1]
    np.testing.assert_allclose(metrics.interocular_distance(seq), 60.0)
    np.testing.assert_allclose(metrics.opening_series(seq), gap / 60.0)
    # scale-free: the same face twice as big opens by the same amount
    np.testing.assert_allclose(metrics.opening_series(seq * 2.0), metrics.opening_series(seq))


def test_identical_videos_give_correlation_one_and_lmd_zero() -> None:
    seq = talking_face()
    result = metrics.compare(seq, seq.copy())
    assert result["mouth_corr"] == pytest.approx(1.0)
    assert result["amplitude_ratio"] == pytest.approx(1.0)
    assert result["lmd_mouth"] == 0.0
    assert result["lmd_face"] == 0.0
    assert result["jitter"] == pytest.approx(result["jitter_real"])


def test_still_video_gives_amplitude_ratio_zero_and_correlation_zero() -> None:
    seq = talking_face()
    still = np.repeat(seq[:1], len(seq), axis=0)
    result = metrics.compare(still, seq)
    assert result["amplitude_ratio"] == 0.0
    assert result["mouth_corr"] == 0.0
    assert result["jitter"] == 0.0
    assert result["lmd_mouth"] > 0.0


def test_lmd_is_normalised_by_interocular_distance() -> None:
    seq = talking_face(10)
    moved = seq.copy()
    moved[:, metrics.MOUTH] += [3.0, 4.0]  # every mouth point moves 5 px = 5/60 IOD
    assert metrics.landmark_distance(moved, seq, metrics.MOUTH) == pytest.approx(5.0 / 60.0)
    assert metrics.landmark_distance(moved, seq, metrics.ALL) == pytest.approx(5.0 / 60.0 * 20 / 68)
    # centred: a mouth that only moved along with the head has the same shape
    assert metrics.landmark_distance(moved, seq, metrics.MOUTH, centred=True) == pytest.approx(0.0, abs=1e-12)


def test_shift_by_two_frames_is_found_at_lag_two() -> None:
    rng = np.random.default_rng(1)
    envelope = rng.normal(size=100)
    mouth_late = np.concatenate([[np.nan, np.nan], envelope[:-2]])  # mouth[t] = envelope[t - 2]
    corr, lag = metrics.lagged_correlation(mouth_late, envelope, max_lag=2)
    assert lag == 2
    assert corr == pytest.approx(1.0)
    mouth_early = np.concatenate([envelope[2:], [np.nan, np.nan]])  # mouth[t] = envelope[t + 2]
    corr, lag = metrics.lagged_correlation(mouth_early, envelope, max_lag=2)
    assert lag == -2
    assert corr == pytest.approx(1.0)
    # the same with a landmark video shifted by two frames, through `compare`
    seq = talking_face(80)
    env = metrics.opening_series(seq)
    shifted = np.concatenate([np.repeat(seq[:1], 2, axis=0), seq[:-2]])
    result = metrics.compare(shifted, seq, envelope=env)
    assert result["audio_mouth_lag"] == 2
    assert result["audio_mouth_corr"] == pytest.approx(1.0)
    assert result["audio_mouth_lag_real"] == 0
    # a generated mouth that trails the real one: lag 0 suffers, the best lag finds it and says by how much
    assert result["mouth_lag"] == 2 and result["mouth_corr_best"] == pytest.approx(1.0, abs=1e-6)
    assert result["mouth_corr"] < 0.9


def test_speaker_folds_are_disjoint_balanced_and_stable() -> None:
    from frond.train.speakers import SpeakerTable, speaker_folds

    table = SpeakerTable({"a1": "anna", "a2": "anna", "a3": "anna", "b1": "bob", "c1": "cleo", "d1": "dan", "e1": "eve"})
    clips = ["a1", "a2", "a3", "b1", "c1", "d1", "e1", "f1"]  # f1 is not listed: its own speaker
    folds = speaker_folds(clips, table, 3)
    assert sorted(c for f in folds for c in f) == sorted(clips)
    owners = [{table.speaker_of(c) for c in f} for f in folds]
    assert all(not (x & y) for i, x in enumerate(owners) for y in owners[i + 1:])  # no speaker in two folds
    assert {"a1", "a2", "a3"} in [set(f) & {"a1", "a2", "a3"} for f in folds]  # anna stays together
    assert max(map(len, folds)) - min(map(len, folds)) <= 2
    assert speaker_folds(list(reversed(clips)), table, 3) == folds  # the order clips come in does not matter


def test_missing_frames_are_skipped_not_fatal() -> None:
    seq = talking_face()
    holes = seq.copy()
    holes[[3, 10, 11]] = np.nan  # no face found in three frames
    result = metrics.compare(holes, seq)
    assert result["mouth_corr"] == pytest.approx(1.0)
    assert result["lmd_mouth"] == pytest.approx(0.0)
    assert result["face_rate"] == pytest.approx(1.0 - 3 / len(seq))
    assert math.isnan(metrics.pearson(np.full(10, np.nan), np.arange(10.0)))


def test_jitter_is_mean_second_difference() -> None:
    seq = talking_face(20)
    drift = seq + np.arange(20)[:, None, None] * 2.0  # uniform motion: no jitter
    assert metrics.temporal_jitter(drift) == pytest.approx(0.0, abs=1e-12)
    shaky = seq.copy()
    shaky[1::2, metrics.NON_MOUTH, 0] += 3.0  # +3 px every other frame: |d2| = 6 px
    assert metrics.temporal_jitter(shaky) == pytest.approx(6.0 / 60.0)
    # the mouth is not counted
    mouthy = seq.copy()
    mouthy[1::2, metrics.MOUTH, 0] += 3.0
    assert metrics.temporal_jitter(mouthy) == pytest.approx(0.0, abs=1e-12)


def test_psnr_matches_its_definition() -> None:
    rng = np.random.default_rng(2)
    a = rng.integers(10, 240, size=(32, 40, 3)).astype(np.uint8)
    b = a.copy()
    b[::2] += 5  # half the pixels off by 5: MSE = 12.5
    assert metrics.psnr(b, a) == pytest.approx(10 * math.log10(255**2 / 12.5))
    assert metrics.psnr(a, a) == math.inf
    from skimage.metrics import peak_signal_noise_ratio

    c = rng.integers(0, 256, size=(32, 40, 3)).astype(np.uint8)
    assert metrics.psnr(c, a) == pytest.approx(peak_signal_noise_ratio(a, c, data_range=255))


def test_ssim_matches_its_definition() -> None:
    # constant images: SSIM = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1) exactly
    c1 = (0.01 * 255) ** 2
    x, y = np.full((24, 24), 100.0), np.full((24, 24), 140.0)
    assert metrics.ssim(x, y) == pytest.approx((2 * 100 * 140 + c1) / (100**2 + 140**2 + c1))
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, size=(48, 48)).astype(np.float64)
    assert metrics.ssim(img, img) == pytest.approx(1.0)
    # agrees with scikit-image's Gaussian-window SSIM (Wang et al. 2004 settings)
    from skimage.metrics import structural_similarity

    noisy = np.clip(img + rng.normal(0, 20, img.shape), 0, 255)
    expected = structural_similarity(
        img, noisy, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert metrics.ssim(img, noisy) == pytest.approx(expected, abs=1e-6)
    assert metrics.ssim(img, noisy) < 0.99


def test_sharpness_drops_with_blur() -> None:
    from scipy import ndimage

    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, size=(64, 64, 3)).astype(np.uint8)
    blurred = ndimage.gaussian_filter(img.astype(float), sigma=(1.5, 1.5, 0))
    assert metrics.relative_sharpness(img[None], img) == pytest.approx(1.0)
    assert metrics.relative_sharpness(blurred[None], img) < 0.2


def test_compare_image_measures() -> None:
    rng = np.random.default_rng(5)
    frames = rng.integers(0, 256, size=(4, 32, 32, 3)).astype(np.uint8)
    seq = talking_face(4)
    same = metrics.compare(seq, seq, frames=frames, real_frames=frames, portrait=frames[0])
    assert same["psnr"] == math.inf
    assert same["ssim"] == pytest.approx(1.0)
    still = np.repeat(frames[:1], 4, axis=0)
    floor = metrics.compare(seq, seq, frames=still, real_frames=frames, portrait=frames[0])
    # frame 0 is identical (infinite PSNR) and is left out of the mean
    assert floor["psnr"] == pytest.approx(np.mean([metrics.psnr(frames[0], f) for f in frames[1:]]))
    assert floor["sharpness"] == pytest.approx(1.0)


def test_bad_shapes_say_what_was_expected() -> None:
    with pytest.raises(ValueError, match=r"\(T, 68, 2\)"):
        metrics.opening_series(np.zeros((5, 20, 2)))
    with pytest.raises(ValueError, match="differ"):
        metrics.pearson(np.zeros(3), np.zeros(4))


def test_closed_opening_reads_only_the_frames_asked_to_close() -> None:
    driving = np.array([0.0, 0.01, 0.2, 0.3, 0.02, np.nan, 0.25])
    seen = np.array([0.05, np.nan, 0.9, 0.8, 0.07, 0.0, 0.7])  # frame 1 lost its face; frame 5 has no target
    assert metrics.closed_opening(seen, driving) == pytest.approx(0.06)  # frames 0 and 4 only
    assert metrics.closed_opening(seen, driving, below=0.0) != metrics.closed_opening(seen, driving)  # nothing below 0
    assert math.isnan(metrics.closed_opening(seen, np.full(7, 0.2)))  # no frame asks for closed lips
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.closed_opening(seen, driving[:3])


def test_closed_level_is_the_least_open_share() -> None:
    opening = np.concatenate([np.linspace(0.2, 0.4, 95), [0.01, 0.02, 0.03, 0.04, 0.05], [np.nan] * 10])
    assert metrics.closed_level(opening) == pytest.approx(0.03)  # the least-open 5 of 100 frames with a face
    assert metrics.closed_level(opening, share=0.5) > 0.2
    assert metrics.closed_level(np.array([0.1, 0.2, 0.3, 0.4])) == pytest.approx(0.2)  # never fewer than 3 frames
    assert math.isnan(metrics.closed_level(np.array([0.1, np.nan])))


def test_head_motion_reads_known_roll_shift_and_turn() -> None:
    seq = talking_face(100)
    still = metrics.head_motion(seq)
    assert still["roll"] < 1e-9 and still["shift"] < 1e-9 and still["yaw"] < 1e-9
    angles = np.radians(3.0 * np.sin(np.arange(100) * 0.3))  # roll about the eyes' midpoint, std ~2.1 degrees
    centre = np.array([130.0, 100.0])
    rot = np.stack([np.stack([np.cos(angles), -np.sin(angles)], -1), np.stack([np.sin(angles), np.cos(angles)], -1)], -2)
    rolled = np.einsum("tij,tkj->tki", rot, seq - centre) + centre
    assert metrics.head_motion(rolled)["roll"] == pytest.approx(np.degrees(angles).std(), rel=1e-6)
    assert metrics.head_motion(rolled)["shift"] < 1e-9
    moved = seq + np.stack([6.0 * np.sin(np.arange(100) * 0.2), np.zeros(100)], -1)[:, None]  # 0.1 inter-ocular amplitude
    assert metrics.head_motion(moved)["shift"] == pytest.approx((6.0 * np.sin(np.arange(100) * 0.2)).std() / 60.0, rel=1e-6)
    turned = seq.copy()
    turned[:, 30, 0] += 6.0 * np.sin(np.arange(100) * 0.2)  # the nose tip slides along the eye line: a turn
    assert metrics.head_motion(turned)["yaw"] == pytest.approx((6.0 * np.sin(np.arange(100) * 0.2)).std() / 60.0, rel=1e-6)
    live = metrics.head_liveliness(seq, rolled)
    assert live["head_roll"] == pytest.approx(0.0, abs=1e-9) and live["head_roll_real"] > 2.0
    assert metrics.head_liveliness(rolled, rolled)["head_roll"] == pytest.approx(1.0)


def test_brow_liveliness_reads_raised_brows_not_a_rolled_head() -> None:
    seq = talking_face(100)
    assert metrics.brow_raise(seq).std() < 1e-9
    lift = 3.0 * np.sin(np.arange(100) * 0.25)  # pixels, at an inter-ocular distance of 60
    raised = seq.copy()
    raised[:, 17:27, 1] -= lift[:, None]  # brows up the image = up the face
    np.testing.assert_allclose(metrics.brow_raise(raised) - metrics.brow_raise(seq), lift / 60.0, atol=1e-9)
    angles = np.radians(8.0 * np.sin(np.arange(100) * 0.3))
    rot = np.stack([np.stack([np.cos(angles), -np.sin(angles)], -1), np.stack([np.sin(angles), np.cos(angles)], -1)], -2)
    centre = np.array([130.0, 100.0])
    rolled = np.einsum("tij,tkj->tki", rot, raised - centre) + centre  # the same brows on a rolling head
    np.testing.assert_allclose(metrics.brow_raise(rolled), metrics.brow_raise(raised), atol=1e-9)
    live = metrics.brow_liveliness(seq, raised)
    assert live["brows"] == pytest.approx(0.0, abs=1e-9) and live["brows_real"] == pytest.approx(lift.std() / 60.0)
    half = seq.copy()
    half[:, 17:27, 1] -= lift[:, None] / 2
    assert metrics.brow_liveliness(half, rolled)["brows"] == pytest.approx(0.5, rel=1e-6)
    assert "brows" in metrics.compare(half, raised)


def test_region_scores_measure_only_the_boxes() -> None:
    """PSNR/SSIM in a box from each frame's landmarks: what changes outside the box does not count, frames
    without landmarks are skipped, and the mouth's box holds the lips with a margin."""
    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, size=(3, 64, 64, 3), dtype=np.uint8)
    frames = real.copy()
    frames[:, :, 40:] = 0  # a change outside the box
    frames[1, 10:20, 10:20] = 255 - frames[1, 10:20, 10:20]  # and one inside it, in the frame with no landmarks
    landmarks = np.zeros((3, 68, 2))
    landmarks[:, :, 0] = np.linspace(8, 30, 68)
    landmarks[:, :, 1] = np.linspace(8, 30, 68)
    landmarks[1] = np.nan
    boxes = [metrics.face_box(lm, real.shape[1:3]) for lm in landmarks]
    assert boxes[0] == (8, 31, 8, 31) and boxes[1] is None
    psnr, ssim = metrics.region_scores(frames, real, boxes)
    assert psnr == math.inf and ssim == pytest.approx(1.0)
    mouth = metrics.mouth_region(landmarks[0], real.shape[1:3])
    assert mouth is not None and mouth[0] < landmarks[0, 48:68, 1].min() and mouth[1] > landmarks[0, 48:68, 1].max()
    assert metrics.region_scores(frames, real, [None, None, None]) != metrics.region_scores(frames, real, boxes)

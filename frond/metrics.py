"""Quality measures for talking faces: pure functions on numpy arrays, no I/O.

These are the "Measures of quality" of docs/DESIGN.md, used by `python -m frond evaluate`
(self-reconstruction: first frame as the portrait, the clip's own audio as the driver,
compared with the real frames).

Conventions:
- landmark sequences are `(T, 68, 2)` float arrays in the iBUG-68 layout, any pixel or
  normalised unit (every distance is divided by the inter-ocular distance); a frame
  where no face was found is all NaN, and every statistic here is NaN-aware;
- frames are `(H, W, 3)` RGB or `(H, W)` grey, uint8 (range 255) unless told otherwise;
- a lag of `k` frames means the first signal *trails* the second by `k` frames:
  `signal[t]` is compared with `reference[t - k]`.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .face import ibug

MOUTH = np.arange(68)[ibug.MOUTH]  # the index groups as arrays, for fancy indexing
NON_MOUTH = np.arange(68)[ibug.NON_MOUTH]
ALL = np.arange(68)

_MIN_STD = 1e-9  # a signal whose std is below this is "still"
MOUTH_MAX_LAG = 3  # frames searched for the generated mouth's best lag against the real one
CLOSED_BELOW = 0.03  # inter-ocular distances: a driving mouth opening below this asks for closed lips
CLOSED_SHARE = 0.05  # the real video's closed level: its least-open 5 % of frames


def _as_sequence(landmarks: np.ndarray) -> np.ndarray:
    lms = np.asarray(landmarks, dtype=np.float64)
    if lms.ndim == 2:
        lms = lms[None]
    if lms.ndim != 3 or lms.shape[1:] != (68, 2):
        raise ValueError(f"expected landmarks of shape (T, 68, 2) or (68, 2), got {np.shape(landmarks)}")
    return lms


# ---------------------------------------------------------------- landmark geometry


def interocular_distance(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the two eye centres (`frond.face.ibug`). (T, 68, 2) -> (T,)."""
    return ibug.inter_ocular(_as_sequence(landmarks))


def opening_series(landmarks: np.ndarray) -> np.ndarray:
    """`frond.face.ibug.mouth_opening` of a landmark sequence, checked: (T, 68, 2) or (68, 2) -> (T,).

    0 for a closed mouth, about 0.3-0.5 for a wide-open one; NaN where the frame has no face.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return ibug.mouth_opening(_as_sequence(landmarks))


def head_motion(landmarks: np.ndarray) -> dict[str, float]:
    """How much a head moves over a video, from its landmarks (T, 68, 2) in one fixed frame -> {"roll": std of
    the eye line's angle (degrees), "shift": std of the eye centres' midpoint (both axes together), "yaw": std
    of the nose tip's offset from that midpoint along the eye line (a turn), both in the median inter-ocular
    distance}. Frames without a face are skipped."""
    lms = _as_sequence(landmarks)
    lms = lms[np.isfinite(lms).all(axis=(1, 2))]
    if len(lms) < 3:
        return {"roll": math.nan, "shift": math.nan, "yaw": math.nan}
    origin, axes, iod = ibug.face_frame(lms)
    unit = float(np.median(iod))
    roll = np.degrees(np.unwrap(np.arctan2(axes[:, 0, 1], axes[:, 0, 0])))
    nose = np.einsum("tc,tc->t", lms[:, ibug.NOSE_TIP] - origin, axes[:, 0]) / iod
    return {"roll": float(roll.std()), "shift": float(np.sqrt(origin.var(0).sum())) / unit, "yaw": float(nose.std())}


def head_liveliness(landmarks: np.ndarray, real_landmarks: np.ndarray) -> dict[str, float]:
    """`head_motion` of a generated video over the real one's: {"head_roll", "head_shift", "head_yaw"} ratios
    (1 = as lively as the real speaker; a still head 0), and the real values ("head_roll_real", ...)."""
    gen, real = head_motion(landmarks), head_motion(real_landmarks)
    out = {f"head_{k}": gen[k] / real[k] if real[k] > 1e-9 else math.nan for k in gen}
    out.update({f"head_{k}_real": v for k, v in real.items()})
    return out


def brow_raise(landmarks: np.ndarray) -> np.ndarray:
    """(T, 68, 2) -> (T,) how far the brows sit above the eyes, up the face's own axis, in inter-ocular
    distances (rises when the brows rise; a turn or roll of the head leaves it)."""
    lms = _as_sequence(landmarks)
    _, axes, iod = ibug.face_frame(lms)
    rel = lms[:, ibug.IMAGE_LEFT_EYE.start:ibug.IMAGE_RIGHT_EYE.stop].mean(1) - lms[:, ibug.BROWS].mean(1)
    return np.einsum("tc,tc->t", rel, axes[:, 1]) / iod


def brow_liveliness(landmarks: np.ndarray, real_landmarks: np.ndarray) -> dict[str, float]:
    """The brows' spread (std of `brow_raise`) in a generated video over the real one's: {"brows": ratio
    (1 = as lively as the real speaker), "brows_real": the real spread}. Frames without a face are skipped."""
    gen, real = (brow_raise(lms[np.isfinite(lms).all(axis=(1, 2))]) for lms in map(_as_sequence, (landmarks, real_landmarks)))
    return {"brows": amplitude_ratio(gen, real), "brows_real": float(real.std()) if real.size >= 2 else math.nan}


def landmark_distance(
    landmarks: np.ndarray, reference: np.ndarray, indices: np.ndarray = ALL, centred: bool = False
) -> float:
    """Landmark distance (LMD): mean Euclidean distance between corresponding points,
    per frame divided by the reference's inter-ocular distance, averaged over points
    and frames (frames missing in either sequence are skipped).

    landmarks, reference: (T, 68, 2) in the same coordinates. Identical sequences give 0.
    centred: first subtract, per frame, the centroid of the chosen points from each
    sequence, so that only their shape counts, not where the head has moved them.
    """
    a, b = _as_sequence(landmarks), _as_sequence(reference)
    if a.shape != b.shape:
        raise ValueError(f"landmark sequences differ in shape: {a.shape} vs {b.shape}")
    idx = np.asarray(indices)
    pa, pb = a[:, idx], b[:, idx]
    if centred:
        pa = pa - pa.mean(axis=1, keepdims=True)
        pb = pb - pb.mean(axis=1, keepdims=True)
    dist = np.linalg.norm(pa - pb, axis=-1).mean(axis=1)  # (T,)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_frame = dist / interocular_distance(b)
    return _nanmean(per_frame)


def closed_opening(opening: np.ndarray, driving: np.ndarray, below: float = CLOSED_BELOW) -> float:
    """How open the detector reads the mouth where it was asked to close: the median of the re-detected
    `opening` (T,) over the frames whose `driving` opening (T,) is below `below`. NaN when no frame asks for
    closed lips (or none of those has a face)."""
    seen, asked = np.asarray(opening, dtype=np.float64), np.asarray(driving, dtype=np.float64)
    if seen.shape != asked.shape:
        raise ValueError(f"opening and driving differ in shape: {seen.shape} vs {asked.shape}")
    closed = seen[(asked < below) & np.isfinite(seen)]
    return float(np.median(closed)) if closed.size else math.nan


def closed_level(opening: np.ndarray, share: float = CLOSED_SHARE) -> float:
    """How closed the detector ever reads a mouth: the median of the least-open `share` of the frames of
    `opening` (T,), at least 3 (NaN below 3 frames with a face). On a real video this is the reading of
    the speaker's own closed lips in that framing: the level a rendered closed mouth can be held to."""
    seen = np.sort(np.asarray(opening, dtype=np.float64)[np.isfinite(opening)])
    if seen.size < 3:
        return math.nan
    return float(np.median(seen[:max(3, int(round(share * seen.size)))]))


def temporal_jitter(landmarks: np.ndarray, indices: np.ndarray = NON_MOUTH) -> float:
    """Mean magnitude of the second difference x[t+1] - 2 x[t] + x[t-1] of the chosen
    landmarks (by default the non-mouth ones, 0-47), in inter-ocular distances per frame^2.

    A still or uniformly moving face gives 0; frame-to-frame shake raises it. (T, 68, 2) -> float.
    """
    lms = _as_sequence(landmarks)
    if lms.shape[0] < 3:
        return math.nan
    idx = np.asarray(indices)
    second = lms[2:, idx] - 2.0 * lms[1:-1, idx] + lms[:-2, idx]  # (T-2, K, 2)
    mag = np.linalg.norm(second, axis=-1).mean(axis=1)  # (T-2,)
    iod = np.nanmedian(interocular_distance(lms)) if np.isfinite(lms).any() else math.nan
    if not np.isfinite(iod) or iod <= 0:
        return math.nan
    return _nanmean(mag / iod)


# ---------------------------------------------------------------- 1-D signals


def _nanmean(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def pearson(a: np.ndarray, b: np.ndarray, min_frames: int = 3) -> float:
    """Pearson correlation of two (T,) signals over the frames where both are finite.

    A still signal (zero variance) carries no information about the other: by
    convention its correlation is 0, so a still image scores 0 (docs/DESIGN.md).
    NaN when fewer than `min_frames` frames are usable.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"signals differ in length: {a.shape} vs {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < min_frames:
        return math.nan
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    sa, sb = np.sqrt((a * a).mean()), np.sqrt((b * b).mean())
    if sa < _MIN_STD or sb < _MIN_STD:
        return 0.0
    return float(np.clip((a * b).mean() / (sa * sb), -1.0, 1.0))


def amplitude_ratio(signal: np.ndarray, reference: np.ndarray) -> float:
    """std(signal) / std(reference), NaN-aware: 1 = as much motion as the reference,
    0 = still. NaN when the reference itself is still."""
    s = np.asarray(signal, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    s, r = s[np.isfinite(s)], r[np.isfinite(r)]
    if s.size < 2 or r.size < 2:
        return math.nan
    sr = r.std()
    if sr < _MIN_STD:
        return math.nan
    ss = s.std()
    return 0.0 if ss < _MIN_STD else float(ss / sr)


def lagged_correlation(
    signal: np.ndarray, reference: np.ndarray, max_lag: int = 2
) -> tuple[float, int]:
    """Best Pearson correlation of `signal[t]` with `reference[t - lag]` for lag in
    -max_lag..+max_lag; returns (correlation, lag). Positive lag: the signal trails the
    reference (e.g. the mouth moves `lag` frames after the sound). Ties go to the
    smallest |lag|. (T,), (T,) -> (float, int); (NaN, 0) when nothing is measurable.
    """
    s = np.asarray(signal, dtype=np.float64).ravel()
    r = np.asarray(reference, dtype=np.float64).ravel()
    if s.shape != r.shape:
        raise ValueError(f"signals differ in length: {s.shape} vs {r.shape}")
    best, best_lag = math.nan, 0
    for lag in sorted(range(-max_lag, max_lag + 1), key=abs):
        c = correlation_at_lag(s, r, lag)
        if np.isfinite(c) and (not np.isfinite(best) or c > best + 1e-12):
            best, best_lag = c, lag
    return float(best), int(best_lag)


def correlation_at_lag(signal: np.ndarray, reference: np.ndarray, lag: int) -> float:
    """Pearson correlation of `signal[t]` with `reference[t - lag]` over the frames both have
    (positive lag: the signal trails the reference); the longer one is cut to the other's length.
    (T,), (T',) -> float; NaN when not measurable."""
    n = min(np.size(signal), np.size(reference))
    s = np.asarray(signal, dtype=np.float64).ravel()[:n]
    r = np.asarray(reference, dtype=np.float64).ravel()[:n]
    if abs(lag) >= n:
        return math.nan
    if lag > 0:
        return pearson(s[lag:], r[:-lag])
    if lag < 0:
        return pearson(s[:lag], r[-lag:])
    return pearson(s, r)


# ---------------------------------------------------------------- images


def _grey(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB or (H, W) -> (H, W) float64 luma (ITU-R BT.601), same range."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 3 and img.shape[-1] == 3:
        return img @ np.array([0.299, 0.587, 0.114])
    if img.ndim == 3 and img.shape[-1] == 1:
        return img[..., 0]
    if img.ndim == 2:
        return img
    raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {img.shape}")


def psnr(image: np.ndarray, reference: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio 10 log10(range^2 / MSE) in dB, over all pixels and
    channels; +inf for identical images."""
    a = np.asarray(image, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return math.inf
    return float(10.0 * np.log10(data_range**2 / mse))


def ssim(
    image: np.ndarray,
    reference: np.ndarray,
    data_range: float = 255.0,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> float:
    """Structural similarity (Wang et al. 2004, eq. 13) on the luma of the two images.

    Local statistics use a Gaussian window (sigma 1.5, 11 taps) and population
    (co)variances; the SSIM map is averaged away from a window-radius border, as in
    scikit-image's `structural_similarity(gaussian_weights=True,
    use_sample_covariance=False)`. Identical images give 1.
    """
    x, y = _grey(image), _grey(reference)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {x.shape} vs {y.shape}")
    truncate = 3.5
    radius = int(truncate * sigma + 0.5)

    def blur(z: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(z, sigma=sigma, truncate=truncate, mode="nearest")

    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    if smap.shape[0] > 2 * radius and smap.shape[1] > 2 * radius:
        smap = smap[radius:-radius, radius:-radius]
    return float(smap.mean())


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the luma: higher = more fine detail."""
    return float(ndimage.laplace(_grey(image)).var())


def relative_sharpness(frames: np.ndarray, reference: np.ndarray) -> float:
    """Mean sharpness of the frames (T, H, W, 3) divided by that of one reference image
    (the portrait): 1 = as detailed as the portrait, below 1 = blurrier."""
    ref = sharpness(reference)
    if ref <= 0:
        return math.nan
    return float(np.mean([sharpness(f) for f in frames]) / ref)


def face_box(landmarks: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The box (y0, y1, x0, x1) of all 68 landmarks (68, 2) in pixels, clipped to the frame `shape`; None
    where there are none (NaN) or it is empty."""
    points = np.asarray(landmarks, dtype=np.float64)
    if not np.isfinite(points).all():
        return None
    x0, y0 = np.floor(points.min(0)).astype(int)
    x1, y1 = np.ceil(points.max(0)).astype(int) + 1
    box = (max(int(y0), 0), min(int(y1), shape[0]), max(int(x0), 0), min(int(x1), shape[1]))
    return box if box[1] - box[0] > 1 and box[3] - box[2] > 1 else None


def mouth_region(landmarks: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The box (y0, y1, x0, x1) around the lips of landmarks (68, 2) in pixels with a quarter of the
    inter-ocular distance around them (`frond.face.ibug.mouth_box`), clipped to `shape`; None without landmarks."""
    points = np.asarray(landmarks, dtype=np.float64)
    if not np.isfinite(points).all():
        return None
    box = ibug.mouth_box(points, float(ibug.inter_ocular(points)), shape)
    return box if box[1] - box[0] > 1 and box[3] - box[2] > 1 else None


def region_scores(frames: np.ndarray, real_frames: np.ndarray,
                  boxes: list[tuple[int, int, int, int] | None]) -> tuple[float, float]:
    """PSNR (dB) and SSIM of each frame's box (y0, y1, x0, x1) against the same box of the real frame,
    each averaged over the frames that have a box. frames, real_frames: (T, H, W, 3) uint8."""
    psnrs, ssims = [], []
    for frame, real, box in zip(frames, real_frames, boxes):
        if box is None:
            continue
        y0, y1, x0, x1 = box
        psnrs.append(psnr(frame[y0:y1, x0:x1], real[y0:y1, x0:x1]))
        ssims.append(ssim(frame[y0:y1, x0:x1], real[y0:y1, x0:x1]))
    if not psnrs:
        return math.nan, math.nan
    return _finite_mean(psnrs), float(np.mean(ssims))


# ---------------------------------------------------------------- one comparison


def compare(
    landmarks: np.ndarray,
    real_landmarks: np.ndarray,
    envelope: np.ndarray | None = None,
    frames: np.ndarray | None = None,
    real_frames: np.ndarray | None = None,
    portrait: np.ndarray | None = None,
    max_lag: int = 2,
) -> dict[str, float]:
    """All the measures for one video against the real one, as a flat dict.

    landmarks, real_landmarks: (T, 68, 2) in the same coordinates (the aligned crop);
    envelope: (T,) speech-band energy at the frame times; frames, real_frames:
    (T, S, S, 3) uint8 aligned crops; portrait: (S, S, 3) the aligned portrait.
    Keys: mouth_corr (lag 0), mouth_corr_best and mouth_lag (the best within +-MOUTH_MAX_LAG frames;
    positive: the generated mouth trails the real one), amplitude_ratio, audio_mouth_corr, audio_mouth_lag,
    audio_mouth_corr_real, audio_mouth_lag_real, lmd_mouth, lmd_mouth_shape (mouth
    points centred on their centroid: shape only), lmd_face, psnr, ssim,
    sharpness, jitter, jitter_real, face_rate (share of frames with a face found), head_roll, head_shift,
    head_yaw (the head's motion over the real one's, `head_liveliness`) and their real values, brows and
    brows_real (`brow_liveliness`).
    """
    lms, real = _as_sequence(landmarks), _as_sequence(real_landmarks)
    if lms.shape != real.shape:
        raise ValueError(f"landmark sequences differ in shape: {lms.shape} vs {real.shape}")
    open_gen, open_real = opening_series(lms), opening_series(real)
    best, lag = lagged_correlation(open_gen, open_real, MOUTH_MAX_LAG)
    out: dict[str, float] = {
        "mouth_corr": pearson(open_gen, open_real),
        "mouth_corr_best": best,
        "mouth_lag": float(lag),
        "amplitude_ratio": amplitude_ratio(open_gen, open_real),
        "lmd_mouth": landmark_distance(lms, real, MOUTH),
        "lmd_mouth_shape": landmark_distance(lms, real, MOUTH, centred=True),
        "lmd_face": landmark_distance(lms, real, ALL),
        "jitter": temporal_jitter(lms),
        "jitter_real": temporal_jitter(real),
        "face_rate": float(np.isfinite(lms).all(axis=(1, 2)).mean()),
        **head_liveliness(lms, real),
        **brow_liveliness(lms, real),
    }
    if envelope is not None:
        env = np.asarray(envelope, dtype=np.float64)
        out["audio_mouth_corr"], out["audio_mouth_lag"] = lagged_correlation(open_gen, env, max_lag)
        out["audio_mouth_corr_real"], out["audio_mouth_lag_real"] = lagged_correlation(open_real, env, max_lag)
    if frames is not None and real_frames is not None:
        if len(frames) != len(real_frames):
            raise ValueError(f"frame counts differ: {len(frames)} vs {len(real_frames)}")
        out["psnr"] = _finite_mean([psnr(f, r) for f, r in zip(frames, real_frames)])
        out["ssim"] = float(np.mean([ssim(f, r) for f, r in zip(frames, real_frames)]))
    if frames is not None and portrait is not None:
        out["sharpness"] = relative_sharpness(frames, portrait)
    return out


def _finite_mean(values: list[float]) -> float:
    """Mean PSNR over frames; +inf only when every frame is identical."""
    v = np.asarray(values, dtype=np.float64)
    if np.isinf(v).all():
        return math.inf
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else math.nan

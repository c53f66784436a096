"""The rendering path: no stripes at the picture's edge, one resampling pass, lips that close
through the field (issue 9; issue 8, item 4). Frames are rendered through the stages, as
the pipeline does, and checked by what they show (re-detected landmarks, pixel statistics)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d
from skimage.data import astronaut

from frond import FrondPipeline, GenerationSettings
from frond.contact_sheet import prepare_portrait
from frond.face.align import crop_transform, norm_to_px
from frond.face.ibug import mouth_opening
from frond.face.landmarks import detect_faces
from frond.imaging import extend, invert_affine, prepare_source, sample_affine
from frond.metrics import relative_sharpness

from .conftest import SHARED


def longest_stripe(image: np.ndarray, texture: float = 2.0) -> int:
    """The longest run of consecutive rows (or columns) that repeat the previous one (within one
    grey level) while carrying detail along their length: what a smeared edge row looks like.
    A flat or smoothly shaded area does not count (no detail), nor does real texture (rows differ)."""
    grey = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    longest = 0
    for g in (grey, grey.T):
        detail = (g - gaussian_filter1d(g, 2.0, axis=1)).std(axis=1)  # texture along each row
        same = np.abs(np.diff(g, axis=0)).max(axis=1) <= 1.0
        flags = same & (detail[1:] > texture)
        run = 0
        for flag in flags:
            run = run + 1 if flag else 0
            longest = max(longest, run)
    return longest


EDGE_CROPS = {  # the astronaut's face (box x 179-272, y 87-175) touching each edge of the picture
    "top": (slice(92, 400), slice(60, 420)),
    "bottom": (slice(0, 180), slice(60, 420)),
    "left": (slice(0, 360), slice(178, 500)),
    "right": (slice(0, 360), slice(0, 274)),
}


@pytest.fixture(scope="module")
def pipe() -> FrondPipeline:
    return FrondPipeline(landmarks="mediapipe", use_phones=False)


def render(field, decoder, driving: np.ndarray, pose=(0.0, 0.0, 0.0)) -> np.ndarray:
    frame = field.frames(np.asarray(driving, np.float32)[None], np.asarray([pose], np.float32))[0]
    return decoder.render(frame, driving)


def test_stripe_detector_fires_on_a_replicated_edge():
    """The check itself can fail: an edge row smeared outwards (OpenCV's BORDER_REPLICATE) is caught."""
    import cv2

    image = np.ascontiguousarray(astronaut()[92:400, 60:420])
    assert longest_stripe(image) < 6
    smeared = cv2.copyMakeBorder(image, 40, 0, 0, 0, cv2.BORDER_REPLICATE)
    assert longest_stripe(smeared) >= 30
    assert longest_stripe(extend(image, 40, 0, 0, 0)) < 6


@pytest.mark.parametrize("size", [256, 512])
@pytest.mark.parametrize("framing", ["crop", "picture"])
@pytest.mark.parametrize("edge", list(EDGE_CROPS))
def test_no_stripes_with_the_face_at_the_edge(pipe, edge, framing, size):
    image = np.ascontiguousarray(astronaut()[EDGE_CROPS[edge]])
    settings = GenerationSettings(size=size, framing=framing)
    face, keypoints, space, field, decoder = prepare_portrait(pipe, image, settings)
    if framing == "crop":  # the crop reaches past the picture here: that is the point of the test
        corners = norm_to_px(np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]), size)
        inverse = invert_affine(face.crop_from_image)
        footprint = corners @ inverse[:, :2].T + inverse[:, 2]
        assert footprint.min() < -20 or (footprint - [image.shape[1], image.shape[0]]).max() > 20
    limit = max(6, size // 64)
    assert longest_stripe(face.image) < limit, "the aligned crop smears the picture's edge"
    moved = keypoints + np.array([0.02, -0.015], np.float32)  # the head moves: the field samples near the edges
    for pose in ((0.0, 0.0, 0.0), (8.0, -6.0, 4.0)):
        frame = render(field, decoder, moved, pose)
        assert frame.shape == (space.height, space.width, 3)
        assert longest_stripe(frame) < limit, f"stripes in the {framing} frame ({edge} edge)"


def test_picture_framing_samples_inside_the_picture(pipe):
    """With the picture framing the field fades out at the picture's edge: no output pixel samples beyond it."""
    image = np.ascontiguousarray(astronaut()[EDGE_CROPS["left"]])
    face, keypoints, space, field, decoder = prepare_portrait(pipe, image, GenerationSettings())
    frame = field.frames((keypoints + np.array([0.03, 0.0], np.float32))[None], np.array([[10.0, 0.0, 5.0]], np.float32))[0]
    source_px = frame.dense() @ space.norm_to_source[:, :2].T + space.norm_to_source[:, 2]
    height, width = space.source.shape[:2]
    assert source_px[..., 0].min() >= -1 and source_px[..., 1].min() >= -1  # within a pixel (bilinear lattice)
    assert source_px[..., 0].max() <= width and source_px[..., 1].max() <= height


def map_distortion(frame, space) -> tuple[float, float]:
    """A field's backward map over the output, outside the lips' split and the occluded mouth: its smallest
    Jacobian determinant relative to the identity's (below 0: the map folds, a tear) and the 99.9th
    percentile of its anisotropy (largest over smallest stretch; 1: a rigid motion)."""
    from frond.imaging import affine_scale

    grid = frame.dense().astype(np.float64) / affine_scale(space.out_to_norm)  # output px per output px at identity
    jx, jy = np.diff(grid, axis=1)[:-1], np.diff(grid, axis=0)[:, :-1]
    a, b, c, d = jx[..., 0], jy[..., 0], jx[..., 1], jy[..., 1]
    det, frobenius = a * d - b * c, a * a + b * b + c * c + d * d
    spread = np.sqrt(np.maximum(frobenius ** 2 / 4 - det ** 2, 0))
    anisotropy = np.sqrt(frobenius / 2 + spread) / np.sqrt(np.maximum(frobenius / 2 - spread, 1e-12))
    shown = frame.occlusion[:-1, :-1] < 0.05
    if frame.mouth is not None:
        y0, y1, x0, x1 = frame.mouth.box
        shown[max(y0 - 2, 0):y1 + 2, max(x0 - 2, 0):x1 + 2] = False
    return float(det[shown].min()), float(np.percentile(anisotropy[shown], 99.9))


@pytest.mark.parametrize("framing", ["picture", "crop"])
@pytest.mark.parametrize("where", ["whole", "left", "right", "top"])
def test_head_turns_keep_the_picture_whole(pipe, framing, where):
    """The head turned to the extremes the renderer must hold (roll +-10, yaw +-15 degrees: `TURNS`), the face
    in the middle of the picture or touching its edge: the field never folds (no tear in the neck, the hair
    or the background) and stretches nowhere more than 6:1 (the renderer before issue 21 folded at the left
    and right edges, up to 550:1). The contact sheet shows the same turns."""
    from frond.contact_sheet import TURNS
    from frond.face.head import HeadGeometry, full_pose, keypoint_depth

    crop = EDGE_CROPS.get(where, (slice(None), slice(None)))
    face, keypoints, space, field, decoder = prepare_portrait(pipe, np.ascontiguousarray(astronaut()[crop]),
                                                              GenerationSettings(framing=framing))
    geometry = HeadGeometry(keypoints.astype(np.float64))
    depth = keypoint_depth(geometry, keypoints.astype(np.float64))
    poses = full_pose(np.array([pose for _, pose in TURNS], np.float32))
    driving = np.stack([geometry.rotate(keypoints.astype(np.float64), pose, depth) for pose in poses]).astype(np.float32)
    for (label, _), frame in zip(TURNS, field.frames(driving, poses)):
        folding, stretch = map_distortion(frame, space)
        assert folding > 0.05, f"{label}: the map folds ({folding:.2f})"
        assert stretch < 6, f"{label}: stretched {stretch:.1f}:1"


def test_one_resampling_pass_keeps_the_detail(pipe):
    """A head that moves by a fraction of a pixel stays as sharp as the aligned crop: each frame
    samples the original portrait once (a second bicubic pass over the crop would blur it)."""
    settings = GenerationSettings(size=256, framing="crop")
    face, keypoints, space, field, decoder = prepare_portrait(pipe, astronaut(), settings)
    still = render(field, decoder, keypoints)
    assert np.abs(still.astype(int) - face.image.astype(int)).mean() < 0.5  # identity field: the crop itself
    shifted = keypoints + np.float32(1.0 / 256)  # half an output pixel right and down
    frame = render(field, decoder, shifted)
    inner = (slice(64, 192), slice(64, 192))
    assert relative_sharpness(frame[inner][None], face.image[inner]) > 0.93


def test_large_portraits_are_prefiltered():
    """An output far smaller than the portrait samples an area-filtered level: detail finer than
    the output's pixels (here a one-pixel checkerboard on a 4x larger portrait) averages out
    instead of aliasing into noise."""
    import cv2

    small = astronaut()
    big = cv2.resize(small, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC).astype(np.int16)
    checker = (np.indices(big.shape[:2]).sum(0) % 2 * 2 - 1)[..., None] * 40
    big = np.clip(big + checker, 0, 255).astype(np.uint8)
    landmarks = detect_faces(small, backend="mediapipe")[0].landmarks
    crop_to_small = invert_affine(crop_transform(landmarks, 256))
    crop_to_big = crop_to_small.copy()
    crop_to_big[:, :2] *= 4
    crop_to_big[:, 2] = crop_to_big[:, 2] * 4 + 1.5  # pixel centres: big = 4 small + 1.5
    reference = sample_affine(prepare_source(small, crop_to_small, (256, 256)), crop_to_small, (256, 256)).astype(float)
    from_big = sample_affine(prepare_source(big, crop_to_big, (256, 256)), crop_to_big, (256, 256)).astype(float)
    naive = cv2.warpAffine(big, crop_to_big, (256, 256), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP).astype(float)
    assert np.abs(from_big - reference).mean() < 4.0
    assert np.abs(naive - reference).mean() > 15.0  # what a bicubic tap alone does


def closed(keypoints: np.ndarray) -> np.ndarray:
    """The same face with its inner lips meeting halfway (the outer lips follow)."""
    kp = keypoints.copy()
    upper, lower = [61, 62, 63], [67, 66, 65]
    shift = (kp[lower] - kp[upper]) / 2
    kp[upper] += shift
    kp[lower] -= shift
    kp[[50, 51, 52]] += 0.6 * shift
    kp[[58, 57, 56]] -= 0.6 * shift
    return kp


@pytest.mark.parametrize("size", [256, 512])
def test_parted_lips_close_through_the_field(pipe, size):
    """The astronaut smiles with her teeth showing. Driven closed, her lips meet: no teeth show
    between them, and the landmark detector reads a mouth far more closed than hers (the
    painted closure it replaces read 0.109 at 256 and 0.113 at 512; her portrait 0.157)."""
    settings = GenerationSettings(size=size, framing="crop")
    face, keypoints, space, field, decoder = prepare_portrait(pipe, astronaut(), settings)
    assert mouth_opening(keypoints) > 0.15 and field.lips is not None
    driving = closed(keypoints)
    frame = render(field, decoder, driving)
    found = detect_faces(frame, backend="mediapipe")
    assert found, "the face must stay detectable"
    assert float(mouth_opening(found[0].landmarks)) < 0.1
    # no teeth left between the lips: the band where they meet is not brighter than the lips around it
    kp_px = norm_to_px(driving, size)
    y = int(round(kp_px[[62, 66], 1].mean()))
    x0, x1 = int(kp_px[61, 0]), int(kp_px[63, 0])
    d = max(2, size // 128)
    band = frame[y - d: y + d + 1, x0:x1].astype(float).mean()
    lips = np.r_[frame[y - 3 * d: y - d, x0:x1].ravel(), frame[y + d + 1: y + 3 * d + 1, x0:x1].ravel()].astype(float).mean()
    teeth = face.image[int(norm_to_px(keypoints, size)[62, 1]) + d: int(norm_to_px(keypoints, size)[62, 1]) + 3 * d, x0:x1]
    assert teeth.mean() > lips + 10  # there were teeth to hide (her lips are pale)
    assert band < lips + 3


def test_an_opening_mouth_reuses_the_portraits_teeth(pipe):
    """Opening a little wider than the portrait keeps its own teeth under the upper lip (sampled,
    not painted): the rendered band under the lip shows the portrait's teeth."""
    settings = GenerationSettings(size=512, framing="crop")
    face, keypoints, space, field, decoder = prepare_portrait(pipe, astronaut(), settings)
    wider = keypoints.copy()
    wider[[65, 66, 67, 55, 56, 57, 58, 59]] += np.array([0.0, 0.03], np.float32)
    frame = render(field, decoder, wider)
    src_px, out_px = norm_to_px(keypoints, 512), norm_to_px(wider, 512)
    x0, x1 = int(src_px[61, 0]), int(src_px[63, 0])
    half = int((src_px[66, 1] - src_px[62, 1]) / 2) - 1  # the upper half of her own interior: what hangs from the lip
    teeth_src = face.image[int(src_px[62, 1]) + 1: int(src_px[62, 1]) + half, x0:x1].astype(float)
    teeth_out = frame[int(out_px[62, 1]) + 1: int(out_px[62, 1]) + half, x0:x1].astype(float)
    assert teeth_src.mean() > 150  # they are teeth
    # the same teeth (their pattern along the row), in the shade of the deeper opening: not painted ones
    along_src, along_out = teeth_src.mean(axis=(0, 2)), teeth_out.mean(axis=(0, 2))
    assert np.corrcoef(along_src, along_out)[0, 1] > 0.75
    assert teeth_out.mean() > 0.6 * teeth_src.mean()
    occlusion = field.frames(wider[None], np.zeros((1, 3), np.float32))[0].occlusion
    inner = (src_px[66, 1] - src_px[62, 1]) / 2
    assert occlusion[int(out_px[62, 1] + 2): int(out_px[62, 1] + inner - 2), x0:x1].max() < 0.05  # nothing new needed there


@pytest.mark.skipif(not (SHARED / "clips" / "talk3.mp4").exists(), reason="../shared/data is absent")
def test_talk3_first_frame_closes(pipe):
    """A real video frame with the mouth open mid-word (tongue and teeth showing) closes too."""
    from frond.media import read_video_frames

    frames = read_video_frames(SHARED / "clips" / "talk3.mp4")
    image = next(frames)
    frames.close()
    face, keypoints, space, field, decoder = prepare_portrait(pipe, image, GenerationSettings(size=512, framing="crop"))
    assert mouth_opening(keypoints) > 0.3
    frame = render(field, decoder, closed(keypoints))
    found = detect_faces(frame, backend="mediapipe")
    assert found and float(mouth_opening(found[0].landmarks)) < 0.08  # painted: 0.157; her portrait: 0.37


def test_contact_sheet_from_given_portraits(tmp_path):
    """`python -m frond contact-sheet --portraits ...` writes one row per portrait: the portrait and
    three frames (closed, half open, widest), each a 1:1 tile of the rendered crop, then four with the head
    turned (roll -10, +10, yaw -15, +15 degrees), each the whole crop."""
    from .conftest import EXAMPLES, run_cli

    out = tmp_path / "sheet.png"
    done = run_cli("contact-sheet", "--portraits", str(EXAMPLES / "astronaut.png"), str(EXAMPLES / "grace_hopper.jpg"),
                   "--size", "256", "--tile", "128", "--out", str(out))
    assert done.returncode == 0, done.stderr
    import cv2

    sheet = cv2.imread(str(out))
    assert sheet.shape[1] == 8 * 128 and sheet.shape[0] == 2 * (128 + 22)
    tiles = [sheet[22:150, c * 128:(c + 1) * 128].astype(float) for c in range(8)]
    assert np.abs(tiles[3] - tiles[1]).mean() > 2  # the widest-open frame differs from the closed one
    assert all(np.abs(tiles[c] - tiles[c + 1]).mean() > 2 for c in (4, 6))  # the head turned one way, then the other


def test_contact_sheet_skips_without_shared_data(monkeypatch, tmp_path, capsys):
    import argparse

    from frond import contact_sheet

    monkeypatch.setattr(contact_sheet, "SHARED", tmp_path / "absent")
    args = argparse.Namespace(portraits=None, audio=contact_sheet.ROOT / "examples" / "speech_1.wav", size=512, tile=256,
                              out=tmp_path / "sheet.png")
    assert contact_sheet.run(args) == 0
    assert "skipped" in capsys.readouterr().err and not (tmp_path / "sheet.png").exists()

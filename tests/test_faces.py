"""Faces of any size: a full-range detector over a tile pyramid, then the face mesh on each face's crop."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from frond import FrondPipeline, GenerationSettings
from frond.face.ibug import inter_ocular, mouth_opening
from frond.face.landmarks import detect_faces, face_boxes
from frond.media import load_image, probe_video

from .conftest import EXAMPLES, ROOT, run_cli, voiced, write_wav


def face_width(image: np.ndarray) -> float:
    face = detect_faces(image, backend="mediapipe")[0]
    return face.box[2] - face.box[0]


def scaled(path, face_px: float) -> Image.Image:
    """The portrait at `path`, resized so that its face's landmarks span `face_px` pixels across."""
    image = Image.open(path).convert("RGB")
    scale = face_px / face_width(np.asarray(image))
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)


def background(width: int, height: int) -> Image.Image:
    """A textured, non-uniform backdrop (smooth colour noise), not a flat grey."""
    rng = np.random.default_rng(1)
    coarse = rng.integers(60, 200, (height // 50 + 2, width // 50 + 2, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((width, height), Image.BICUBIC)


@pytest.fixture(scope="module")
def pipeline() -> FrondPipeline:
    pipe = FrondPipeline(landmarks="mediapipe")
    yield pipe
    pipe.close()


def test_a_160px_face_in_a_1500px_picture(tmp_path, pipeline):
    """About a tenth of the picture's width: missed by the mesh's own short-range detector."""
    canvas = background(1500, 1000)
    face = scaled(EXAMPLES / "grace_hopper.jpg", 160)
    canvas.paste(face, (1100, 380))
    path = tmp_path / "wide.jpg"
    canvas.save(path, quality=92)
    found = detect_faces(np.asarray(canvas), backend="mediapipe")
    assert len(found) == 1
    x0, y0, x1, y1 = found[0].box
    assert 1100 < x0 < x1 < 1100 + face.width and 380 < y0 < y1 < 380 + face.height
    assert 140 < x1 - x0 < 180
    speech = write_wav(tmp_path / "speech.wav", voiced(1.0))
    result = pipeline.generate(path, speech, tmp_path / "out.mp4", GenerationSettings())
    assert probe_video(result.video_path)["frames"] == 25
    assert not [n for n in result.notices if "faces" in n], "one face: nothing to say about which"


def test_two_faces_of_different_sizes_and_face_index(tmp_path, pipeline):
    canvas = background(1400, 900)
    big, small = scaled(EXAMPLES / "grace_hopper.jpg", 300), scaled(EXAMPLES / "astronaut.png", 130)
    canvas.paste(big, (60, 60))
    canvas.paste(small, (900, 400))
    image = np.asarray(canvas)
    found = detect_faces(image, backend="mediapipe")
    assert len(found) == 2
    widths = [f.box[2] - f.box[0] for f in found]
    assert widths[0] > widths[1], "largest first"
    assert found[0].box[0] < 60 + big.width and found[1].box[0] > 900
    settings = GenerationSettings(face_index=1)
    notices: list[str] = []
    chosen = pipeline.find_face(image, settings, notices).detection
    assert chosen.box == found[1].box
    assert notices == ["Found 2 faces; animating the 2nd largest (--face-index 1); --face-index 0 picks the largest."]
    notices.clear()
    pipeline.find_face(image, GenerationSettings(), notices)
    assert notices == ["Found 2 faces; animating the largest; --face-index 1 picks the next."]
    path = tmp_path / "two.png"
    canvas.save(path)
    speech = write_wav(tmp_path / "speech.wav", voiced(1.0))
    done = run_cli("generate", "--portrait", str(path), "--audio", str(speech), "--out", str(tmp_path / "second.mp4"),
                   "--face-index", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "faces" in line]
    expected = "note: Found 2 faces; animating the 2nd largest (--face-index 1); --face-index 0 picks the largest."
    assert notes == [expected], done.stderr
    done = run_cli("generate", "--portrait", str(path), "--audio", str(speech), "--out", str(tmp_path / "third.mp4"),
                   "--face-index", "2", "--quiet")
    assert done.returncode == 2 and "has 2 face(s): use --face-index 0 to 1" in done.stderr, done.stderr


def test_landmarks_on_the_crop_match_the_whole_image_mesh():
    """Mesh on the detector's crop vs. MediaPipe's own whole-image mesh, on the bundled portraits:
    the same landmarks to within about a pixel, so measurements stay comparable."""
    from frond.face import landmarks

    for name in ("grace_hopper.jpg", "astronaut.png"):
        image, _ = load_image(EXAMPLES / name)
        ours = detect_faces(image, backend="mediapipe")[0].landmarks
        with landmarks._lock, landmarks.quiet_native_logs():
            mesh = landmarks._mediapipe_mesh(1).process(image).multi_face_landmarks[0].landmark
        whole = np.array([(p.x * image.shape[1], p.y * image.shape[0]) for p in mesh])[landmarks.MESH_TO_68]
        assert np.abs(ours - whole).mean() < 0.01 * float(inter_ocular(whole)) + 1.0
        assert abs(float(mouth_opening(ours)) - float(mouth_opening(whole))) < 0.02


def test_no_face_and_a_flat_picture():
    flat = np.full((480, 640, 3), 128, np.uint8)
    assert detect_faces(flat, backend="mediapipe") == []
    assert face_boxes(flat).shape == (0, 5)


def test_face_finding_imports_no_matplotlib_and_mediapipe_stays_whole():
    """The lean import skips MediaPipe's drawing utilities (matplotlib) and Tasks API; both still work when used."""
    code = (
        "import sys, numpy as np\n"
        "from frond.face.landmarks import detect_faces\n"
        "detect_faces(np.zeros((64, 64, 3), np.uint8), backend='mediapipe')\n"
        "print('matplotlib' in sys.modules, 'mediapipe.tasks.python.vision' in sys.modules)\n"
        "import mediapipe as mp\n"
        "print(callable(mp.solutions.drawing_utils.draw_landmarks), mp.tasks.vision.FaceDetector.__name__, mp.__version__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True", "FaceDetector", "0.10.21"], done.stdout

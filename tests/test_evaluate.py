"""`python -m frond evaluate` end to end, on short clips the test makes itself."""
from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from frond import metrics
from frond.evaluate import cli
from frond.evaluate import folder as evaluation_folder
from frond.evaluate import report as evaluation_report
from frond.media import VideoWriter

SHARED_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips" / "talk2.mp4"
FPS = 25.0


def speech_like(seconds: float, rate: int = 16_000) -> np.ndarray:
    """A voiced buzz (140 Hz and harmonics) switched on and off like syllables."""
    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) ** 0.5
    return (0.3 * voice / np.abs(voice).max() * syllables).astype(np.float32)


def write_clip(path: Path, frames: list[np.ndarray], audio: np.ndarray | None) -> Path:
    wav = None
    if audio is not None:
        wav = path.with_suffix(".wav")
        wavfile.write(wav, 16_000, (audio * 32767).astype(np.int16))
    with VideoWriter(path, frames[0].shape[1], frames[0].shape[0], FPS, audio_path=wav) as writer:
        for frame in frames:
            writer.write(frame)
    if wav is not None:
        wav.unlink()
    return path


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="frond")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skimage.data import astronaut

    folder = tmp_path_factory.mktemp("clips")
    face = np.ascontiguousarray(astronaut()[0:320, 80:400])
    seconds = 1.2
    n = int(seconds * FPS)
    # the face nods by a pixel or two, so the real video is not perfectly still
    frames = [np.roll(face, int(round(1.5 * np.sin(i / 3))), axis=0) for i in range(n)]
    write_clip(folder / "astronaut.mp4", frames, speech_like(seconds))
    write_clip(folder / "mute.mp4", frames[:10], None)
    noise = np.random.default_rng(0).integers(0, 256, size=(10, 128, 128, 3), dtype=np.uint8)
    write_clip(folder / "noface.mp4", list(noise), speech_like(0.4))
    (folder / "notes.txt").write_text("not a video: ignored")
    return folder


def test_evaluate_end_to_end(clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval" / "report.json"
    status = run_cli(["evaluate", "--clips", str(clips), "--out", str(out), "--baselines"])
    assert status == 0
    report = json.loads(out.read_text())
    assert [c["clip"] for c in report["clips"]] == ["astronaut.mp4"]
    reasons = {s["clip"]: s["reason"] for s in report["skipped"]}
    assert reasons == {"mute.mp4": "no audio track", "noface.mp4": "no face in the first frame"}
    assert report["failed"] == []

    clip = report["clips"][0]
    assert clip["frames"] >= 25
    rows = clip["rows"]
    assert set(rows) == {"generated", "still portrait", "real video"}
    ceiling, floor, generated = rows["real video"], rows["still portrait"], rows["generated"]
    assert ceiling["lmd_mouth"] == 0.0 and ceiling["lmd_face"] == 0.0
    assert ceiling["psnr"] is None  # identical frames: +inf, written as null
    assert ceiling["ssim"] == pytest.approx(1.0)
    assert floor["amplitude_ratio"] == 0.0 and floor["sharpness"] == pytest.approx(1.0)
    assert generated["face_rate"] > 0.9
    assert 0.0 < generated["ssim"] <= 1.0 and generated["psnr"] > 10
    assert len(clip["series"]["mouth_generated"]) == clip["frames"]
    # render fidelity: the re-detected opening against the driving keypoints' own, per clip and as a mean
    driving, seen = np.array(clip["series"]["mouth_driving"], float), np.array(clip["series"]["mouth_generated"], float)
    ok = np.isfinite(driving) & np.isfinite(seen)
    assert generated["render_fidelity"] == pytest.approx(np.corrcoef(driving[ok], seen[ok])[0, 1], abs=1e-4)
    assert "render_fidelity" in report["mean"]["generated"] and "render_fidelity" not in floor
    # closed lips: the re-detected opening where the driving asks for them, and the real video's own closed level
    expected = metrics.closed_opening(seen, driving)
    assert (generated["closed_opening"] is None) if math.isnan(expected) else generated["closed_opening"] == pytest.approx(expected, abs=1e-5)
    real_level = metrics.closed_level(np.array(clip["series"]["mouth_real"], float))
    assert generated["closed_real"] == pytest.approx(real_level, abs=1e-5) and real_level <= np.nanmedian(clip["series"]["mouth_real"])
    assert (out.parent / clip["plot"]).is_file()
    assert set(report["mean"]) == set(rows)

    markdown = evaluation_report.results_markdown(report)
    assert "still portrait (floor)" in markdown and "real video (ceiling)" in markdown
    assert "| astronaut.mp4 |" in markdown


def test_not_a_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = run_cli(["evaluate", "--clips", str(tmp_path / "missing"), "--out", str(tmp_path / "r.json")])
    assert status == 2
    assert "not a folder" in capsys.readouterr().err


@pytest.mark.skipif(not SHARED_CLIP.is_file(), reason="shared talking clips are absent")
def test_evaluate_real_clip(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    shutil.copy(SHARED_CLIP, folder / SHARED_CLIP.name)
    out = tmp_path / "report.json"
    report = evaluation_folder.evaluate_folder(folder, out, baselines=True, max_seconds=1.6)
    clip = report["clips"][0]
    assert clip["frames"] == 40
    ceiling = clip["rows"]["real video"]
    assert ceiling["mouth_corr"] == pytest.approx(1.0) and ceiling["amplitude_ratio"] == pytest.approx(1.0)
    assert ceiling["psnr"] == math.inf
    assert clip["rows"]["generated"]["face_rate"] > 0.9
    assert np.isfinite(clip["rows"]["generated"]["mouth_corr"])


def test_evaluate_reenact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`evaluate --reenact`: each clip's first frame driven by the clip itself, in the whole picture, measured
    in the mouth's and the face's boxes against the real frames beside the still first frame. A face that
    moves (8 px) is followed: the reenactment beats the still frame; a clip without a face is skipped."""
    import cv2
    from skimage.data import astronaut

    folder = tmp_path / "clips"
    folder.mkdir()
    face = np.ascontiguousarray(astronaut()[0:320, 80:400])
    frames = []
    for i in range(25):
        matrix = cv2.getRotationMatrix2D((160, 160), 3 * np.sin(i / 4), 1.0)
        matrix[:, 2] += (8 * np.sin(i / 5), 4 * np.sin(i / 7))
        frames.append(cv2.warpAffine(face, matrix, (320, 320), borderMode=cv2.BORDER_REFLECT))
    write_clip(folder / "moving.mp4", frames, speech_like(1.0))
    noise = np.random.default_rng(0).integers(0, 256, size=(10, 128, 128, 3), dtype=np.uint8)
    write_clip(folder / "noface.mp4", list(noise), None)
    out = tmp_path / "reenact.json"
    assert run_cli(["evaluate", "--reenact", "--clips", str(folder), "--out", str(out), "--markdown",
                    "--landmarks", "mediapipe"]) == 0
    report = json.loads(out.read_text())
    assert report["reenact"] and [c["clip"] for c in report["clips"]] == ["moving.mp4"]
    assert "face in only 0 of its 10 frames" in report["skipped"][0]["reason"]
    clip = report["clips"][0]
    assert clip["frames"] == 25 and clip["frame_size"] == "320x320"
    reenacted, still = clip["rows"]["generated"], clip["rows"]["still portrait"]
    assert reenacted["psnr_mouth"] > still["psnr_mouth"] + 2 and reenacted["psnr_face"] > still["psnr_face"] + 2
    assert reenacted["ssim_face"] > still["ssim_face"] and 0 < still["ssim_mouth"] < 1
    printed = capsys.readouterr().out
    assert "still first frame" in printed and "| **mean of 1** |" in printed and "PSNR mouth: reenacted" in printed

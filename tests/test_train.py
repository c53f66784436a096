"""Training: the render stage learns, the motion stage overfits, resume, prepare, CLI."""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from frond.errors import FrondInputError
from frond.models import FrondModel
from frond.models.geometry import mouth_open
from frond.train.data import load_prepared
from frond.train.losses import psnr, ssim
from frond.train.synthetic import make_clip
from frond.train.trainer import TrainConfig, train

torch.set_num_threads(1)
CLIPS = Path("/work/shared/data/clips")


def _log(out: Path, stage: str) -> list[dict]:
    return [json.loads(line) for line in (out / "logs" / f"{stage}.jsonl").read_text().splitlines()]


def _cfg(data, out, stage, **kw) -> TrainConfig:
    base = dict(data=str(data), stage=stage, out=str(out), model_size="tiny", image_size=64, batch=2, log_every=1,
                sample_every=0, checkpoint_every=0, eval_frames=0, progress=False, holdout=0.0)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("prepared")
    make_clip(data, n_frames=10, size=64)
    return data


def test_metrics():
    a = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.allclose(ssim(a, a), torch.ones(2), atol=1e-5)
    assert (psnr(a, a) > 90).all() and (psnr(a, -a) < 10).all()


def test_render_stage_reconstruction_loss_falls(clip_dir, tmp_path):
    summary = train(_cfg(clip_dir, tmp_path / "model", "render", steps=60, lr=3e-3, seed=0))
    totals = [row["total"] for row in _log(tmp_path / "model", "render")]
    assert len(totals) == 60
    first, last = np.mean(totals[:5]), np.mean(totals[-5:])
    assert last < 0.75 * first, (first, last)
    model = FrondModel.from_pretrained(tmp_path / "model")
    assert model.config.trained_stages == ["render"]
    assert summary["steps"] == 60


def test_motion_stage_overfits_one_clip(clip_dir, tmp_path):
    out = tmp_path / "model"
    train(_cfg(clip_dir, out, "motion", steps=150, lr=3e-3, window=8, seed=0))
    totals = [row["total"] for row in _log(out, "motion")]
    assert np.median(totals[-10:]) < 0.4 * np.mean(totals[:5])
    model = FrondModel.from_pretrained(out)
    clip = load_prepared(clip_dir)[0]
    from frond.train.data import motion_window

    errors, stills, corrs = [], [], []
    for src in range(clip.n_frames):  # every frame of the clip as the source
        item = motion_window(clip, 0, 8, model.config.motion.n_mels, src)
        with torch.no_grad():
            pred = model.predict_motion(item["mel"][None], item["source_kp"][None], item["source_pose"][None],
                                        item["times"])["keypoints"][0].numpy()
        real = item["keypoints"].numpy()
        errors.append(np.abs(mouth_open(pred) - mouth_open(real)).mean())
        stills.append(np.abs(mouth_open(item["source_kp"].numpy()) - mouth_open(real)).mean())  # a still face
        corrs.append(np.corrcoef(mouth_open(pred), mouth_open(real))[0, 1])
    assert np.mean(errors) < 0.5 * np.mean(stills), (np.mean(errors), np.mean(stills))
    assert np.mean(corrs) > 0.9


def test_stages_fill_one_folder_and_resume(clip_dir, tmp_path):
    out = tmp_path / "model"
    train(_cfg(clip_dir, out, "render", steps=3, checkpoint_every=2))
    assert (out / "checkpoints" / "render.pt").is_file()
    train(_cfg(clip_dir, out, "render", steps=5))  # resumes at step 3
    steps = [row["step"] for row in _log(out, "render")]
    assert steps == [1, 2, 3, 4, 5]
    train(_cfg(clip_dir, out, "motion", steps=2, window=8))
    model = FrondModel.from_pretrained(out)
    assert model.config.trained_stages == ["render", "motion"]
    assert model.config.training["render"]["steps"] == 5


def test_train_rejects_bad_input(tmp_path):
    with pytest.raises(FrondInputError, match="no prepared clips"):
        train(_cfg(tmp_path, tmp_path / "out", "render", steps=1))
    with pytest.raises(FrondInputError, match="--stage"):
        _cfg(tmp_path, tmp_path / "out", "decoder", steps=1)


def test_cli_registers_prepare_and_train(tmp_path):
    from frond.train.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train", "--data", str(tmp_path), "--stage", "motion", "--steps", "3", "--device", "cpu"])
    assert args.steps == 3 and callable(args.func)
    args = parser.parse_args(["prepare", str(tmp_path / "videos"), str(tmp_path / "out")])
    with pytest.raises(FrondInputError, match="videos folder not found"):
        args.func(args)


@pytest.mark.skipif(not (CLIPS / "talk5.mp4").is_file(), reason="shared talking clips are absent")
def test_prepare_real_clip_resumable_and_skips_bad(tmp_path):
    pytest.importorskip("mediapipe")
    from frond.train.prepare import PrepareSettings, prepare_videos

    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "talk5.mp4").symlink_to(CLIPS / "talk5.mp4")  # never copied
    (videos / "broken.mp4").write_bytes(b"not a video")
    settings = PrepareSettings(size=128)
    report = prepare_videos(videos, tmp_path / "out", settings, progress=False)
    assert report["prepared"] == ["talk5"] and "broken.mp4" in report["skipped"]
    clip = load_prepared(tmp_path / "out")[0]
    assert clip.frames.shape[1:] == (128, 128, 3) and clip.keypoints.shape == (clip.n_frames, 68, 2)
    assert abs(clip.n_frames - 25 * clip.audio.size / 16000) < 3
    assert np.abs(clip.keypoints).max() < 1.2
    opening = mouth_open(clip.keypoints)
    assert opening.std() > 0.01  # the person talks
    again = prepare_videos(videos, tmp_path / "out", settings, progress=False)
    assert again["done_before"] == ["talk5"] and not again["prepared"]
    shutil.rmtree(tmp_path / "out")

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
from frond.metrics import opening_series as mouth_open
from frond.nn.config import FrondConfig
from frond.train.data import load_prepared
from frond.train.heldout import evaluate_motion
from frond.train.losses import psnr, ssim
from frond.train.synthetic import make_clip
from frond.train.trainer import TrainConfig, train
from frond.weights.model import FrondModel

torch.set_num_threads(1)
CLIPS = Path("/work/shared/data/clips")


def _log(out: Path, stage: str) -> list[dict]:
    return [json.loads(line) for line in (out / "logs" / f"{stage}.jsonl").read_text().splitlines()]


def _cfg(data, out, stage, **kw) -> TrainConfig:
    base = dict(data=str(data), stage=stage, out=str(out), model_size="tiny", image_size=64, batch=2, log_every=1,
                sample_every=0, checkpoint_every=0, eval_frames=0, progress=False, holdout=0.0, sync_steps=20)
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


def test_a_recordings_own_audio_video_offset_is_found_and_aligned(tmp_path):
    """A clip whose picture trails its sound by 3 frames is found so, and read 4 frames later to align it
    (its mouth then leads the voice by the typical frame, as training and the folds' synced r read it)."""
    from frond.audio.features import speech_envelope
    from frond.metrics import correlation_at_lag, lagged_correlation
    from frond.train.data import AV_TYPICAL_LAG

    make_clip(tmp_path, n_frames=100, size=64)
    clip = load_prepared(tmp_path)[0]
    assert (clip.av_lag, clip.sync_shift) == (0, 0)  # in sync: nothing to align
    keypoints = np.load(clip.root / "keypoints.npy")
    np.save(clip.root / "keypoints.npy", np.concatenate([np.repeat(keypoints[:1], 3, 0), keypoints[:-3]]))
    late = load_prepared(tmp_path)[0]
    assert late.av_lag == 3 and late.sync_shift == 3 - AV_TYPICAL_LAG
    voice = speech_envelope(late.audio, 16000, np.arange(late.n_frames) / late.fps)
    mouth = mouth_open(late.keypoints)
    # the mouth trails the voice by 3 frames: lag 0 suffers, lag 3 finds it, as `lagged_correlation` does
    assert correlation_at_lag(mouth, voice, 3) > 0.9 > correlation_at_lag(mouth, voice, 0) + 0.2
    assert lagged_correlation(mouth, voice, 4) == (pytest.approx(correlation_at_lag(mouth, voice, 3)), 3)


def test_motion_stage_overfits_one_clip(tmp_path):
    data = tmp_path / "data"
    make_clip(data, n_frames=40, size=64)
    out = tmp_path / "model"
    train(_cfg(data, out, "motion", steps=150, lr=3e-3, window=16, seed=0))
    totals = [row["total"] for row in _log(out, "motion")]
    assert np.median(totals[-10:]) < 0.5 * np.mean(totals[:5])
    model = FrondModel.from_pretrained(out)
    assert model.config.trained_stages == ["motion"]
    assert model.motion.basis.abs().sum() > 0  # the articulation space was fitted on the data
    # the whole clip, its first frame as the portrait: the driving mouth follows the real one
    scores = evaluate_motion(model, load_prepared(data))
    assert scores["n_clips"] == 1 and scores["open_r"] > 0.8, scores
    assert 0.5 < scores["amplitude"] < 2.0, scores


def test_speaker_disjoint_motion_split(tmp_path):
    from frond.train.speakers import load_speakers
    from frond.train.trainer import training_split

    for name in ("a_1", "a_2", "b_1", "c_1"):
        make_clip(tmp_path / "data", name=name, n_frames=12, size=32)
    table_file = tmp_path / "speakers.csv"
    table_file.write_text("clip,speaker,note\na_1,anna,\na_2,anna,\nb_1,bob,\n"
                          "c_1,cleo,audio probably not the speaker's own\n")
    table = load_speakers(table_file)
    clips = load_prepared(tmp_path / "data")
    fold = training_split(_cfg(tmp_path / "data", tmp_path / "out", "motion", clips=("a_1", "b_1")), clips, table)
    assert [c.name for c in fold.train] == ["a_1", "b_1"]
    assert fold.held_out == []  # a_2's speaker was trained on; c_1's audio is not its speaker's
    fold = training_split(_cfg(tmp_path / "data", tmp_path / "out", "motion", clips=("b_1",)), clips, table)
    assert [c.name for c in fold.held_out] == ["a_1", "a_2"]
    split = training_split(_cfg(tmp_path / "data", tmp_path / "out", "motion", holdout=0.5), clips, table)
    train_speakers = {table.speaker_of(c.name) for c in split.train}
    assert train_speakers and not train_speakers & {table.speaker_of(c.name) for c in split.held_out}
    assert "c_1" not in {c.name for c in split.train + split.held_out}


@pytest.mark.skipif(not (CLIPS.parent / "train").is_dir(), reason="the shared corpus is absent")
def test_shared_speaker_table_covers_the_corpus_and_deals_five_folds():
    from frond.train.speakers import load_speakers, speaker_folds

    table = load_speakers()
    videos = sorted(p.stem for d in (CLIPS, CLIPS.parent / "train") for p in d.glob("*.mp4"))
    assert sorted(table.speakers) == videos  # every shared video has its row, and no row is stale
    usable = [v for v in videos if table.usable(v)]
    assert set(videos) - set(usable) == {"talk1", "talk4"}
    folds = speaker_folds(usable, table, 5)
    owners = [{table.speaker_of(c) for c in f} for f in folds]
    assert all(not (x & y) for i, x in enumerate(owners) for y in owners[i + 1:])
    assert max(map(len, folds)) - min(map(len, folds)) <= 2


def test_stages_fill_one_folder_and_resume(clip_dir, tmp_path):
    out = tmp_path / "model"
    train(_cfg(clip_dir, out, "render", steps=3, checkpoint_every=2))
    assert (out / "checkpoints" / "render.pt").is_file()
    train(_cfg(clip_dir, out, "render", steps=5))  # resumes at step 3
    steps = [row["step"] for row in _log(out, "render")]
    assert steps == [1, 2, 3, 4, 5]
    train(_cfg(clip_dir, out, "motion", steps=2, window=6))
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
    from frond.face.ibug import inter_ocular
    from frond.face.landmarks import detect_faces
    from frond.train.prepare import PrepareSettings, prepare_videos, resampled_frames

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
    marks = clip.image_keypoints()  # through crops.npy, in the video's pixels
    assert clip.crops.shape == (clip.n_frames, 2, 3) and marks.shape == clip.keypoints.shape
    _, _, first = next(resampled_frames(CLIPS / "talk5.mp4", 25.0))
    found = detect_faces(first, backend="mediapipe")[0].landmarks  # the same detector on the video's own frame 0
    assert np.abs(marks[0] - found).mean() < 0.01 * inter_ocular(found)
    opening = mouth_open(clip.keypoints)
    assert opening.std() > 0.01  # the person talks
    again = prepare_videos(videos, tmp_path / "out", settings, progress=False)
    assert again["done_before"] == ["talk5"] and not again["prepared"]
    shutil.rmtree(tmp_path / "out")


def test_benchmark_runs_on_cpu():
    """The model bench (`frond.train.bench`, the GPU check's) runs end to end on a tiny model."""
    from frond.train.bench import benchmark

    result = benchmark("cpu", sizes=(64,), batch=1, config=FrondConfig.tiny(64), warmup=0, iters=1)
    row = result["sizes"][64]
    assert row["train_steps_per_s"] > 0 and row["infer_frames_per_s"] > 0
    assert set(result["params"]) == {"encoder", "motion", "field", "decoder"}


def test_sync_windows_cut_the_same_span_of_audio_and_mouth():
    from frond.motion.sync_net import SyncConfig, sync_windows

    config = SyncConfig(features=3)
    context, window = 10, 30
    mel = torch.arange(4 * (window + 2 * context - 1) + 1, dtype=torch.float32).expand(2, 3, -1)  # sample index as value
    articulation = torch.arange(window, dtype=torch.float32)[None, :, None].expand(2, window, 62)
    starts = torch.tensor([[0, 5], [12, window - config.mouth_frames]])
    audio, mouth = sync_windows(mel, articulation, context, config, starts)
    assert audio.shape == (4, 3, config.audio_samples) and mouth.shape == (4, config.mouth_frames, 62)
    for row, start in enumerate(starts.flatten().tolist()):
        assert mouth[row, :, 0].tolist() == list(range(start, start + config.mouth_frames))
        # audio sample 4 (j + context) is video frame j: the window spans the mouth's frames plus the margins
        first = 4 * (start + context - config.audio_margin)
        assert audio[row, 0, 0] == first and audio[row, 0, -1] == first + config.audio_samples - 1
        assert audio[row, 0, 4 * config.audio_margin] == 4 * (start + context)


def test_sync_embedding_tells_aligned_from_shifted_and_scores_the_motion_stage(tmp_path):
    """On a clip whose loudness follows the mouth, the embedding scores the true alignment above shifted
    ones; the motion stage trained with it as a critic logs its term."""
    from frond.motion.sync_net import sync_windows
    from frond.train.data import MotionWindows
    from frond.train.sync_critic import train_sync

    data = tmp_path / "data"
    make_clip(data, n_frames=120, size=32)
    clips = load_prepared(data)
    model, info = train_sync(MotionWindows(clips, 80, 40, 0, stride=2), steps=150, batch=16, seed=0)
    assert not any(p.requires_grad for p in model.parameters())  # frozen
    assert info["accuracy"] > 2 * info["chance"], info
    item = {k: v[None] for k, v in MotionWindows(clips, 80, 40, 0, augment=None).__getitem__(0).items()}
    shifts = torch.arange(-8, 9)
    audio, _ = sync_windows(item["mel"], item["articulation"], 10, model.config, torch.tensor([[15]]))
    _, mouths = sync_windows(item["mel"], item["articulation"], 10, model.config, (15 + shifts)[None])
    scores = model.score(audio.expand(len(shifts), -1, -1), mouths)
    assert abs(int(shifts[scores.argmax()])) <= 1, scores

    out = tmp_path / "model"
    train(_cfg(data, out, "motion", steps=5, window=16, sync_steps=20,
               motion_weights={**TrainConfig.__dataclass_fields__["motion_weights"].default_factory(), "sync_embed": 0.2}))
    rows = _log(out, "motion")
    assert len(rows) == 5 and all(0 <= row["sync_embed"] <= 2 for row in rows), rows[0]

"""Training at scale: perceptual loss on/off, speaker-disjoint split, resume keeping the schedule,
persistent data workers, a 2-process CPU DDP run, prepare's compressed storage, the GPU-check
script's code paths (on CPU), and the render stage's new motion/decoder/augmentation parts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from frond.field.keypoint_motion import local_affines, tps_apply, tps_fit
from frond.nn.config import FrondConfig
from frond.train.augment import AugmentConfig, augment_pair, flip_keypoints
from frond.train.data import PreparedClip, RenderPairs, load_prepared, pair
from frond.train.frames import FrameShard, FrameShardWriter
from frond.train.losses import psnr
from frond.train.schedule import LRSchedule
from frond.train.speakers import load_speakers
from frond.train.split import split_clips
from frond.train.synthetic import astronaut_face, face_keypoints, make_clip
from frond.train.trainer import TrainConfig, train
from frond.weights.model import FrondModel

from .test_train import _cfg as _tiny_cfg
from .test_train import _log

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]


def _cfg(data, out, stage="render", **kw) -> TrainConfig:
    """test_train's tiny run, without the perceptual loss and data workers unless asked."""
    return _tiny_cfg(data, out, stage, **{"perceptual": "off", "workers": 0, **kw})


@pytest.fixture(scope="module")
def one_clip(tmp_path_factory):
    data = tmp_path_factory.mktemp("one")
    make_clip(data, n_frames=10, size=64)
    return data


@pytest.fixture(scope="module")
def speakers_data(tmp_path_factory):
    """Six clips of five speakers (two clips of "anna")."""
    data = tmp_path_factory.mktemp("speakers")
    for i, speaker in enumerate(["anna", "anna", "ben", "cleo", "dev", "eli"]):
        make_clip(data, name=f"clip{i}", n_frames=8, size=64, shift=0.02 * (i + 1), speaker=speaker)
    return data


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory) -> Path:
    """A VGG19 (torchvision layout) with seeded random weights in safetensors: a local weights file."""
    from safetensors.torch import save_file

    from frond.train.perceptual import vgg19_features

    torch.manual_seed(0)
    net = vgg19_features()
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight)
    path = tmp_path_factory.mktemp("vgg") / "vgg19.safetensors"
    save_file({f"features.{k}": v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path


# --- perceptual loss --------------------------------------------------------------------------


def test_perceptual_loss_off_without_weights_and_the_run_says_so(one_clip, tmp_path, monkeypatch):
    from frond.train.perceptual import find_vgg19_weights

    monkeypatch.delenv("FROND_VGG19_WEIGHTS", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    found = find_vgg19_weights("auto")
    assert found.path is None and "perceptual loss off" in found.reason
    summary = train(_cfg(one_clip, tmp_path / "m", steps=2, perceptual="auto"))
    assert "perceptual loss off" in summary["perceptual"]
    assert all("perceptual" not in row for row in _log(tmp_path / "m", "render"))
    card = FrondModel.from_pretrained(tmp_path / "m").config.training["render"]
    assert "perceptual loss off" in card["perceptual"]


def test_perceptual_loss_on_from_a_local_safetensors_file(one_clip, vgg_file, tmp_path):
    from frond.train.perceptual import PerceptualLoss, find_vgg19_weights, load_vgg19

    found = find_vgg19_weights(str(vgg_file))
    assert found.path == vgg_file
    loss = PerceptualLoss(load_vgg19(vgg_file))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    blurred = torch.nn.functional.avg_pool2d(x, 3, 1, 1)
    assert float(loss(x, x)) == 0.0
    near, far = float(loss(0.9 * x, x)), float(loss(blurred, x))
    assert 0 < near < far  # a slight contrast change costs less than losing the detail
    pred = x.clone().requires_grad_(True)
    loss(pred, blurred).backward()
    assert pred.grad.abs().sum() > 0 and not any(p.requires_grad for p in loss.parameters())
    summary = train(_cfg(one_clip, tmp_path / "m", steps=3, perceptual=str(vgg_file)))
    rows = _log(tmp_path / "m", "render")
    assert all(row["perceptual"] > 0 for row in rows)
    assert str(vgg_file) in summary["perceptual"]
    pickle = tmp_path / "vgg19.pth"
    pickle.write_bytes(b"not loaded")
    with pytest.raises(ValueError, match="safetensors"):
        find_vgg19_weights(str(pickle))


# --- split, resume, workers ------------------------------------------------------------------


def test_speaker_disjoint_split(speakers_data, tmp_path):
    clips = load_prepared(speakers_data)
    for holdout in (0.01, 0.3, 0.6, 0.99):
        split = split_clips(clips, holdout)
        train_sp, held_sp = split.speakers()
        assert train_sp and held_sp and not train_sp & held_sp, (holdout, train_sp, held_sp)
        assert {c.name for c in split.train} | {c.name for c in split.held_out} == {c.name for c in clips}
        assert split.train_holdout == 0.0 and split.eval_holdout == 1.0
    names = lambda cs: sorted(c.name for c in cs)  # noqa: E731
    anna = {"clip0", "clip1"}
    split = split_clips(clips, 0.5)
    assert anna <= set(names(split.train)) or anna <= set(names(split.held_out))  # one speaker, one side
    # a speaker table overrides what prepare recorded: now clip0 and clip5 are one person
    table_csv = tmp_path / "speakers.csv"
    table_csv.write_text("clip,speaker\nclip0,zoe\nclip5,zoe\n")
    table = load_speakers(table_csv)
    for holdout in (0.2, 0.5, 0.8):
        split = split_clips(clips, holdout, table=table)
        assert ({"clip0", "clip5"} <= set(names(split.train))) or ({"clip0", "clip5"} <= set(names(split.held_out)))
    # the trainer evaluates on the held-out speakers only
    summary = train(_cfg(speakers_data, tmp_path / "m", steps=2, holdout=0.3, eval_frames=2))
    held = summary["split"]["held_out_speakers"]
    assert held and summary["split"]["held_out_clips"] == sum(c.speaker in held for c in clips)
    assert summary["heldout_after"]["n_frames"] == 2 * summary["split"]["held_out_clips"]
    time_split = split_clips(clips, 0.25, "time")
    assert time_split.train == time_split.held_out == clips and time_split.train_holdout == 0.25


def test_schedule_continues_when_steps_grow():
    sched = LRSchedule.for_run(100)
    before = [sched.factor(s) for s in range(101)]
    assert before[0] < before[5] and abs(before[100] - sched.floor) < 1e-9
    sched.extend(300, 60)
    after = [sched.factor(s) for s in range(301)]
    assert after[:61] == before[:61]  # the past is kept
    steps = np.abs(np.diff(after[10:]))
    assert steps.max() <= np.abs(np.diff(before[10:])).max() + 1e-9  # no jump where it was extended
    assert abs(after[300] - sched.floor) < 1e-9 and np.all(np.diff(after[60:]) <= 1e-12)
    fresh = LRSchedule.for_run(300).factor(60)  # what restarting the cosine for the new total would give
    assert abs(fresh - before[60]) > 10 * steps.max()  # ... a jump the test would catch
    again = LRSchedule(**sched.to_dict())
    assert [again.factor(s) for s in range(301)] == after


def test_resume_keeps_the_schedule_and_the_data_order(one_clip, tmp_path, monkeypatch):
    ref = _log_after(train(_cfg(one_clip, tmp_path / "ref", steps=8, lr=1e-3)), tmp_path / "ref")
    # an interrupted run: checkpoint at step 4, killed during step 5
    import frond.train.trainer as trainer

    def crash(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "save_render_sample", crash)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(one_clip, tmp_path / "cut", steps=8, lr=1e-3, checkpoint_every=4, sample_every=5))
    monkeypatch.undo()
    resumed = _log_after(train(_cfg(one_clip, tmp_path / "cut", steps=8, lr=1e-3)), tmp_path / "cut")
    assert [r["step"] for r in resumed] == list(range(1, 9))
    lr_ref = [r["lr"] for r in ref]
    assert [r["lr"] for r in resumed] == pytest.approx(lr_ref, rel=1e-9)
    assert [r["total"] for r in resumed[5:]] == pytest.approx([r["total"] for r in ref[5:]], rel=1e-4)
    # extended: --steps 8 -> 16 from the step-4 checkpoint: no jump, down to the floor
    monkeypatch.setattr(trainer, "save_render_sample", crash)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(one_clip, tmp_path / "ext", steps=8, lr=1e-3, checkpoint_every=4, sample_every=5))
    monkeypatch.undo()
    ext = _log_after(train(_cfg(one_clip, tmp_path / "ext", steps=16, lr=1e-3)), tmp_path / "ext")
    lrs = [r["lr"] for r in ext]
    assert lrs[:5] == pytest.approx(lr_ref[:5], rel=1e-9)  # steps 1-5 as the run it continues
    assert max(np.abs(np.diff(lrs))) <= max(np.abs(np.diff(lr_ref))) + 1e-12
    assert np.all(np.diff(lrs) <= 1e-15) and lrs[-1] == pytest.approx(1e-3 * LRSchedule.for_run(8).floor, rel=0.1)


def _log_after(summary: dict, out: Path) -> list[dict]:
    assert summary["steps"] >= 1
    return _log(out, "render")


def test_persistent_workers_draw_what_one_process_draws(one_clip, tmp_path):
    a = train(_cfg(one_clip, tmp_path / "w0", steps=3, workers=0, seed=4))
    b = train(_cfg(one_clip, tmp_path / "w1", steps=3, workers=1, seed=4))
    assert a["data_workers"] == 0 and b["data_workers"] == 1
    assert [r["total"] for r in _log(tmp_path / "w0", "render")] == \
        pytest.approx([r["total"] for r in _log(tmp_path / "w1", "render")], rel=1e-6)


# --- several processes -------------------------------------------------------------------------


def _ranks(rank: int, world: int, init: str, out: str) -> None:
    import torch.distributed as tdist

    from frond.train.distributed import Distributed, mean_over_ranks, sharded

    tdist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    dist = Distributed(world=world, rank=rank)
    mean = mean_over_ranks({"total": torch.tensor(float(rank + 1)), "l1": torch.tensor(10.0 * rank)}, dist)
    seen: list = []

    def evaluate(items):
        seen.extend(items)
        return {"psnr": float(np.mean(items)), "n_frames": len(items)}

    result = sharded(evaluate, list(range(7)), dist)
    Path(out, f"{rank}.json").write_text(json.dumps({"mean": mean, "result": result, "seen": seen}))
    tdist.destroy_process_group()


def test_losses_are_averaged_and_evaluation_is_split_across_ranks(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_ranks, args=(2, f"file://{tmp_path / 'rendezvous'}", str(tmp_path)), nprocs=2)
    ranks = [json.loads((tmp_path / f"{r}.json").read_text()) for r in range(2)]
    for r in ranks:
        assert r["mean"] == {"total": 1.5, "l1": 5.0}  # (1 + 2) / 2, (0 + 10) / 2 on every rank
        assert r["result"] == {"n_frames": 7, "psnr": 3.0}  # the mean of 0..6, as one process would get
    assert sorted(ranks[0]["seen"] + ranks[1]["seen"]) == list(range(7)) and not set(ranks[0]["seen"]) & set(ranks[1]["seen"])


def test_two_process_cpu_ddp_run(tmp_path):
    data = tmp_path / "data"
    for i in range(4):
        make_clip(data, name=f"clip{i}", n_frames=10, size=64, shift=0.02 * (i + 1), speaker=f"s{i}")
    out = tmp_path / "model"
    common = ["--data", str(data), "--out", str(out), "--model", "tiny", "--image-size", "64", "--batch", "2",
              "--device", "cpu", "--log-every", "1", "--sample-every", "0", "--quiet", "--eval-frames", "2",
              "--holdout", "0.5", "--perceptual", "off", "--workers", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for stage, extra in (("render", ["--steps", "4", "--mouth-adv", "0.1", "--mouth-fm", "1"]),
                         ("motion", ["--steps", "2", "--window", "10", "--sync-steps", "5"])):
        proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                               "--master_port", str(29500 + os.getpid() % 1000), "-m", "frond", "train", "--stage", stage,
                               *common, *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
        assert proc.returncode == 0, proc.stderr[-3000:]
        rows = _log(out, stage)
        assert [r["processes"] for r in rows] == [2] * len(rows) and rows[-1]["step"] == int(extra[1])
        summary = json.loads((out / "logs" / f"{stage}_summary.json").read_text())
        assert summary["processes"] == 2 and summary["heldout_after"]["n_frames"] > 0
    assert all("mouth_d" in r and "mouth_adv" in r for r in _log(out, "render"))
    assert all("sync_embed" in r for r in _log(out, "motion"))  # the frozen sync critic, under DDP too
    model = FrondModel.from_pretrained(out)
    assert model.config.trained_stages == ["render", "motion"]
    assert model.config.training["render"]["processes"] == 2


# --- prepare: compressed storage ---------------------------------------------------------------


def _talking_video(path: Path, seconds: float = 1.6, fps: int = 25, size: int = 256) -> Path:
    """The astronaut's face drifting in a larger frame, with a tone whose loudness pulses (H.264 + AAC)."""
    import av

    face = astronaut_face(size)
    frame_side = size + 64
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width = video.height = frame_side
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        for i in range(int(seconds * fps)):
            canvas = np.full((frame_side, frame_side, 3), 200, np.uint8)
            dx, dy = int(16 + 12 * np.sin(i / 6)), int(32 + 8 * np.cos(i / 9))
            canvas[dy:dy + size, dx:dx + size] = face
            for packet in video.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        t = np.arange(int(seconds * 16000)) / 16000
        tone = (0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
        for start in range(0, tone.size, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="flt", layout="mono")
            chunk.sample_rate = 16000
            for packet in audio.encode(chunk):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    pytest.importorskip("mediapipe")
    folder = tmp_path_factory.mktemp("videos")
    _talking_video(folder / "astro_a.mp4")
    _talking_video(folder / "astro_b.mp4", seconds=1.2)
    return folder


def test_frame_shard_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    frames = [np.clip(astronaut_face(96).astype(int) + rng.integers(-3, 4, (96, 96, 3)), 0, 255).astype(np.uint8)
              for _ in range(5)]
    for fmt in ("jpeg", "webp"):
        with FrameShardWriter(tmp_path / f"f_{fmt}.bin", fmt, 90) as writer:
            for f in frames:
                writer.add(f)
        shard = FrameShard(tmp_path / f"f_{fmt}.bin")
        assert len(shard) == 5 and shard.shape == (5, 96, 96, 3)
        back = torch.from_numpy(np.stack([shard[i] for i in range(5)])).float() / 127.5 - 1
        assert psnr(back.permute(0, 3, 1, 2), torch.from_numpy(np.stack(frames)).float().permute(0, 3, 1, 2) / 127.5 - 1).min() > 30
        assert shard.nbytes < 0.3 * sum(f.nbytes for f in frames)
        assert np.array_equal(shard[-1], shard[4])
        with pytest.raises(IndexError):
            shard[5]


def test_prepare_compressed_round_trip_with_workers_and_speakers(videos, tmp_path):
    from frond.face.ibug import px_to_norm as pixels_to_normalised
    from frond.face.landmarks import detect_faces
    from frond.train.prepare import PrepareSettings, prepare_videos, read_audio

    table = tmp_path / "speakers.csv"
    table.write_text("clip,speaker\nastro_a,astronaut\nastro_b,astronaut\n")
    report = prepare_videos(videos, tmp_path / "out", PrepareSettings(size=128, workers=2), progress=False,
                            speakers=load_speakers(table))
    assert sorted(report["prepared"]) == ["astro_a", "astro_b"], report
    assert report["throughput"]["frames"] == 40 + 30 and report["throughput"]["frames_per_s"] > 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [c["speaker"] for c in manifest["clips"]] == ["astronaut", "astronaut"]
    assert manifest["totals"]["speakers"] == 1 and manifest["totals"]["gb_per_hour"] > 0
    clip = load_prepared(tmp_path / "out")[0]
    assert clip.speaker == "astronaut" and clip.meta["frames"]["format"] == "jpeg"
    assert not (clip.root / "frames.npy").exists() and not list(clip.root.glob("canvas*"))
    assert isinstance(clip.frames, FrameShard) and clip.frames.shape == (40, 128, 128, 3)
    raw = 40 * 128 * 128 * 3
    assert clip.frames.nbytes < raw / 5  # compressed
    # the stored crops and keypoints still agree: landmarks found again on the decoded crops
    errors = []
    for i in (0, 13, 39):
        faces = detect_faces(clip.frames[i], backend="mediapipe")
        errors.append(np.abs(pixels_to_normalised(faces[0].landmarks, 128) - clip.keypoints[i]).mean())
    assert max(errors) < 0.03, errors
    # the head drifts in the video but the crop follows it: the stored keypoints barely move
    assert np.abs(clip.keypoints - clip.keypoints.mean(0)).max() < 0.1
    # ... and crops.npy gives it back: image-space landmarks move with the face's known offset in the frame
    assert clip.crops.shape == (40, 2, 3) and clip.crops.dtype == np.float32
    offset = np.array([[16 + 12 * np.sin(i / 6), 32 + 8 * np.cos(i / 9)] for i in range(40)]).astype(int)
    still = clip.image_keypoints() - offset[:, None, :]  # the face's own landmarks, drift removed
    assert np.abs(still - np.median(still, 0)).mean() < 1.5, np.abs(still - np.median(still, 0)).mean()
    assert np.ptp(clip.image_keypoints().mean(1), 0).min() > 10  # the image-space head does move
    audio = read_audio(videos / "astro_a.mp4")
    n = min(audio.size, clip.audio.size)
    assert clip.audio.dtype == np.float32 and np.abs(clip.audio[:n] - audio[:n]).max() < 1e-3  # int16 on disk
    again = prepare_videos(videos, tmp_path / "out", PrepareSettings(size=128, workers=2), progress=False)
    assert sorted(again["done_before"]) == ["astro_a", "astro_b"] and not again["prepared"]


def test_clips_prepared_before_still_load(tmp_path):
    dest = tmp_path / "old"
    dest.mkdir()
    frames = np.stack([astronaut_face(32)] * 3)
    np.save(dest / "frames.npy", frames)
    np.save(dest / "keypoints.npy", np.stack([face_keypoints(0.1)] * 3))
    np.save(dest / "pose.npy", np.zeros((3, 3), np.float32))
    np.save(dest / "audio.npy", np.zeros(4000, np.float32))
    (dest / "meta.json").write_text(json.dumps({"version": 1, "fps": 25.0, "n_frames": 3, "size": 32}))
    clip = PreparedClip(dest)
    assert np.array_equal(clip.frames[1], frames[1]) and clip.audio.dtype == np.float32 and clip.speaker == "old"


# --- render-stage parts -----------------------------------------------------------------------


def test_first_order_motion_recovers_a_local_affine_and_tps_interpolates():
    src = torch.from_numpy(face_keypoints(0.0))[None]
    a = torch.tensor([[1.1, 0.15], [-0.1, 0.95]])
    drv = src @ a.T + torch.tensor([0.05, -0.02])
    jac = local_affines(src, drv, neighbours=6)  # source = A^-1 (driving - t): J = A^-1 everywhere
    assert torch.allclose(jac, torch.linalg.inv(a).expand_as(jac), atol=0.05)
    w, aff = tps_fit(drv, src)
    assert torch.allclose(tps_apply(drv, w, aff, drv[:, :, None]), src[:, :, None], atol=1e-3)
    open_ = torch.from_numpy(face_keypoints(0.3))[None]
    jac_open = local_affines(src, open_, neighbours=6)
    assert jac_open[0, 66, 1, 1] < 0.8  # the opening lower lip: sample a vertically shrunk source there


@pytest.mark.parametrize("motion", ["translation", "affine", "tps"])
def test_keypoint_motions_render_and_save(motion, tmp_path):
    cfg = FrondConfig.tiny(64)
    cfg.field.keypoint_motion = motion
    torch.manual_seed(0)
    model = FrondModel(cfg).eval()
    img = torch.rand(2, 3, 64, 64) * 2 - 1
    kp = torch.from_numpy(face_keypoints(0.0))[None].repeat(2, 1, 1)
    pose = torch.zeros(2, 3)
    still = model.reconstruct(img, kp, pose, kp, pose)
    assert torch.allclose(still["jacobians"], torch.eye(2).expand_as(still["jacobians"]), atol=1e-4)
    assert (still["image"] - img).abs().mean() < 0.1  # identity motion at init: close to the source
    drv = torch.from_numpy(face_keypoints(0.3))[None].repeat(2, 1, 1)
    out = model.reconstruct(img, kp, pose, drv, pose, out_hw=(72, 88))
    assert out["image"].shape == (2, 3, 72, 88) and torch.isfinite(out["image"]).all()
    assert out["weights"].shape[1] == 68 + (3 if motion == "tps" else 2)
    model.config.trained_stages = ["render"]
    model.save_pretrained(tmp_path)
    loaded = FrondModel.from_pretrained(tmp_path)
    assert loaded.config.field.keypoint_motion == motion
    assert torch.equal(loaded.reconstruct(img, kp, pose, drv, pose)["image"], model.reconstruct(img, kp, pose, drv, pose)["image"])


def test_config_written_before_keeps_its_meaning():
    old = FrondConfig.tiny(64).to_dict()
    del old["field"]["keypoint_motion"], old["field"]["neighbours"], old["decoder"]["levels"], old["decoder"]["max_channels"]
    cfg = FrondConfig.from_dict(old)
    assert cfg.field.keypoint_motion == "translation" and cfg.decoder.levels == 1
    model = FrondModel(cfg)
    assert len(model.decoder.down) == 0 and len(model.decoder.up) == 0  # the single-scale decoder's modules
    new = FrondModel(FrondConfig())
    assert len(new.decoder.down) == 2 and sum(p.numel() for p in new.parameters()) > 5_000_000


def test_decoder_scales_see_the_occlusion():
    """A fully occluded field leaves the multi-scale features nothing of the source: the latent no longer
    depends on the source image."""
    torch.manual_seed(0)
    model = FrondModel(FrondConfig.tiny(64)).eval()
    dec = model.decoder
    grid = torch.stack(torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="xy"), -1)[None]
    occ = torch.ones(1, 1, 64, 64)
    a, b = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    la = dec.warp_and_decode(dec.encode_source(a), grid, occ)
    lb = dec.warp_and_decode(dec.encode_source(b), grid, occ)
    lc = dec.warp_and_decode(dec.encode_source(b), grid, torch.zeros_like(occ))
    assert (la - lb).abs().max() < 1e-3 < 0.05 < (lc - lb).abs().max()


def test_augmentation_flips_consistently_and_recolours_both_frames(one_clip):
    clip = load_prepared(one_clip)[0]
    item = pair(clip, 0, 5, 64)
    flipped = augment_pair(item, np.random.default_rng(0), AugmentConfig(flip=1.0, brightness=0, contrast=0,
                                                                        saturation=0, channel_gain=0))
    assert torch.equal(flipped["source"], item["source"].flip(-1))
    kp = flipped["driving_kp"].numpy()
    assert np.allclose(flip_keypoints(kp), item["driving_kp"].numpy())  # flipping twice is the identity
    assert kp[36, 0] < kp[45, 0]  # landmark 36 is still the eye corner on the image's left
    assert np.isclose(flipped["driving_pose"][2], -item["driving_pose"][2], atol=1e-4)  # roll mirrors
    recoloured = augment_pair(item, np.random.default_rng(1), AugmentConfig(flip=0.0, brightness=0.3))
    ratio = (recoloured["source"] + 1).mean() / (item["source"] + 1).mean()
    ratio_d = (recoloured["driving"] + 1).mean() / (item["driving"] + 1).mean()
    assert abs(ratio - 1) > 0.01 and abs(ratio - ratio_d) < 0.02
    pairs = RenderPairs([clip], 64, augment=AugmentConfig())
    assert pairs[3]["source"].shape == (3, 64, 64)


# --- the GPU check's code paths, on CPU --------------------------------------------------------


def test_gpu_check_script_runs_on_cpu(videos, tmp_path):
    out = tmp_path / "check"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--device", "cpu", "--videos", str(videos),
         "--work", str(out), "--model", "tiny", "--image-size", "64", "--batch", "2", "--render-steps", "3",
         "--motion-steps", "3", "--window", "8", "--sizes", "64", "96", "--infer-batch", "2", "--prepare-workers", "1",
         "--holdout", "0.5", "--speakers", "none"],
        cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["device"] == "cpu" and report["prepare"]["frames"] == 70
    for stage in ("render", "motion"):
        assert report[stage]["steps"] == 3 and report[stage]["steps_per_s"] > 0
    assert set(report["inference"]) == {"64", "96"} and all(v["infer_frames_per_s"] > 0 for v in report["inference"].values())
    video = report["video"]
    assert Path(video["path"]).is_file() and video["frames"] > 10
    weights = video["stage_weights"]
    assert Path(weights["decoder"]).name == "model" and weights["encoder"] == weights["field"] == weights["decoder"]
    assert weights["motion"] is not None

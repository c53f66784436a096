"""The learned implementations of the four stage protocols (`frond.stages`), backed by a
`FrondModel`, and `load_learned_stages` which loads them from a folder or the Hub.

Conventions shared with the training-free path:
- keypoints (68, 2) in normalised crop space; the driving keypoints include the head's motion;
- `MotionSequence.head_pose` is the pose *change* from the source, degrees (yaw, pitch, roll);
  the networks' global stream gets the absolute pose = geometric pose of the source + change.
- the learned motion estimator ignores a given `global_code` and computes its own from the
  source keypoints (its global stream is geometry-only), so it also works after the prior encoder.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from ..config import GenerationSettings
from ..errors import FrondInputError
from ..face.align import px_to_norm_affine
from ..hub import TRUE, go_offline_if_hub_unreachable
from ..types import AlignedFace, AudioClip, FieldFrame, MotionSequence, OutputSpace
from .audio_features import log_mel
from .decoder import resample_grid
from .frond_model import FrondModel
from .geometry import head_pose_from_keypoints, mouth_open, mouth_width
from .trajectory import stiffness_from_smoothing

LIP_POINTS = np.r_[5:12, 48:68]  # lower jaw + lips: what `lip_scale` multiplies
RIGID_POINTS = np.r_[27:36]  # nose: its mean offset stands for the head's translation


def _image_tensor(image: np.ndarray, device: str) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def _vec(x: np.ndarray, device: str) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)[None]


class _Learned:
    def __init__(self, model: FrondModel, weights_id: str, device: str = "cpu") -> None:
        self.model = model.eval()
        self.device = device
        self.name = f"learned: {weights_id}"


class LearnedKeypointEncoder(_Learned):
    """Stage 1: keypoints = the face's 68 landmarks; global code = the global stream's code (G,)."""

    @torch.inference_mode()
    def encode(self, face: AlignedFace) -> tuple[np.ndarray, np.ndarray]:
        kp = face.keypoints.astype(np.float32)
        pose = head_pose_from_keypoints(kp)
        code = self.model.encoder.global_code(_vec(kp, self.device), _vec(pose, self.device))
        return kp, code[0].float().cpu().numpy()


class LearnedMotionEstimator(_Learned):
    """Stage 2: audio -> B-spline trajectories of the 68 keypoints and the head pose."""

    @torch.inference_mode()
    def estimate(self, audio: AudioClip, source_keypoints: np.ndarray, global_code: np.ndarray,
                 times: np.ndarray, settings: GenerationSettings) -> MotionSequence:
        """source_keypoints (68, 2), times (T,) seconds -> MotionSequence at `times`.

        `smoothing` sets the P-spline stiffness; `lip_scale` multiplies the lips' and jaw's motion
        relative to the head; `head_motion` multiplies the head's translation and pose change.
        `blink_rate` and `seed` have no effect (blinks come from the data, the network is deterministic).
        """
        cfg = self.model.config.motion
        src = np.asarray(source_keypoints, dtype=np.float32)
        mel = log_mel(audio.samples, audio.sample_rate, n_mels=cfg.n_mels)
        src_pose = head_pose_from_keypoints(src)
        lam = stiffness_from_smoothing(settings.smoothing, cfg.stiffness)
        t = torch.as_tensor(np.asarray(times, dtype=np.float32), device=self.device)
        out = self.model.predict_motion(_vec(mel, self.device), _vec(src, self.device), _vec(src_pose, self.device),
                                        t, stiffness=lam)
        offsets = (out["keypoints"][0].float().cpu().numpy() - src[None])  # (T, 68, 2)
        pose = out["head_pose"][0].float().cpu().numpy() - src_pose[None]
        rigid = offsets[:, RIGID_POINTS].mean(axis=1, keepdims=True)  # (T, 1, 2)
        local = offsets - rigid
        local[:, LIP_POINTS] *= settings.lip_scale
        keypoints = (src[None] + settings.head_motion * rigid + local).astype(np.float32)
        channels = {
            "open": mouth_open(keypoints).astype(np.float32),
            "width": mouth_width(keypoints).astype(np.float32),
            "envelope": _envelope(mel, np.asarray(times, dtype=np.float64)),
        }
        return MotionSequence(times=np.asarray(times, dtype=np.float64), keypoints=keypoints,
                              head_pose=(settings.head_motion * pose).astype(np.float32),
                              channels=channels, source=self.name)


def _envelope(mel: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Loudness from the log-mel (n_mels, M), sampled at times (T,), scaled to [0, 1]."""
    loud = mel.mean(axis=0)
    loud = (loud - loud.min()) / max(float(np.ptp(loud)), 1e-6)
    return np.interp(times * 100.0, np.arange(loud.size), loud).astype(np.float32)


class LearnedDenseField(_Learned):
    """Stage 3: the dense field network, evaluated at the output resolution."""

    def prepare(self, face: AlignedFace, source_keypoints: np.ndarray, space: OutputSpace) -> None:
        with torch.inference_mode():
            self.out_hw = (face.size, face.size)  # the network's field lives on the crop ...
            self.query = _output_query(space, face.size, self.device)  # ... and is resampled onto the output space
            self.source = _image_tensor(face.image, self.device)
            self.source_kp = _vec(source_keypoints, self.device)
            self.source_pose = head_pose_from_keypoints(np.asarray(source_keypoints, dtype=np.float32))
            enc = self.model.encoder(self.source, self.source_kp, _vec(self.source_pose, self.device))
            self.kp_features, self.source_code = enc["kp_features"], enc["global_code"]

    @torch.inference_mode()
    def frames(self, driving_keypoints: np.ndarray, head_pose: np.ndarray) -> list[FieldFrame]:
        """Batched: driving_keypoints (T, 68, 2), head_pose (T, 3) -> T fields."""
        t = driving_keypoints.shape[0]
        kp = torch.as_tensor(np.asarray(driving_keypoints, np.float32), device=self.device)
        pose = torch.as_tensor(np.asarray(head_pose, np.float32) + self.source_pose[None], device=self.device)
        code = self.model.encoder.global_code(kp, pose)
        rep = lambda x: x.expand(t, *x.shape[1:])  # noqa: E731
        out = self.model.field(rep(self.source), rep(self.source_kp), kp, rep(self.kp_features),
                               rep(self.source_code), code, self.out_hw)
        grid, occ = out["grid"].float(), out["occlusion"].float()
        if self.query is not None:  # a continuous field: sample it at the output pixels' crop coordinates
            grid, occ = _resample_field(grid, occ, self.query)
        grid, occ = grid.cpu().numpy(), occ.cpu().numpy()
        return [FieldFrame(grid=grid[i], occlusion=occ[i]) for i in range(t)]

    def frame(self, driving_keypoints: np.ndarray, head_pose: np.ndarray) -> FieldFrame:
        """driving_keypoints (68, 2), head_pose (3,) change from the source -> FieldFrame at out_hw."""
        return self.frames(np.asarray(driving_keypoints)[None], np.asarray(head_pose)[None])[0]


class LearnedDecoder(_Learned):
    """Stage 4: the implicit decoder, queried at the output's pixel centres (any resolution)."""

    def prepare(self, face: AlignedFace, source_keypoints: np.ndarray, space: OutputSpace) -> None:
        with torch.inference_mode():
            self.out_hw = (space.height, space.width)
            self.source = _image_tensor(face.image, self.device)
            self.features = self.model.decoder.encode_source(self.source)

    @torch.inference_mode()
    def render_batch(self, fields: list[FieldFrame]) -> np.ndarray:
        """T fields -> (T, H, W, 3) uint8."""
        grid = torch.stack([torch.as_tensor(f.dense(), dtype=torch.float32) for f in fields]).to(self.device)
        occ = torch.stack([torch.as_tensor(f.occlusion, dtype=torch.float32) for f in fields]).to(self.device)
        if tuple(grid.shape[1:3]) != self.out_hw:
            grid = resample_grid(grid, self.out_hw)
            occ = torch.nn.functional.interpolate(occ[:, None], size=self.out_hw, mode="bilinear",
                                                  align_corners=False)[:, 0]
        t = grid.shape[0]
        out = self.model.decoder(self.source.expand(t, -1, -1, -1), grid, occ.clamp(0, 1),
                                 source_features=[f.expand(t, -1, -1, -1) for f in self.features])
        img = ((out["image"].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return img.permute(0, 2, 3, 1).cpu().numpy()

    def render(self, field: FieldFrame, driving_keypoints: np.ndarray) -> np.ndarray:
        """-> (H, W, 3) uint8 RGB at out_hw."""
        return self.render_batch([field])[0]


def _output_query(space: OutputSpace, size: int, device: str) -> torch.Tensor | None:
    """Normalised crop coordinates of every output pixel (1, H, W, 2), or None when the output is the crop itself."""
    crop = px_to_norm_affine(size)
    if (space.height, space.width) == (size, size) and np.allclose(space.out_to_norm, crop, atol=1e-9):
        return None
    ys, xs = np.mgrid[0:space.height, 0:space.width].astype(np.float64)
    pts = np.stack([xs, ys], -1) @ space.out_to_norm[:, :2].T + space.out_to_norm[:, 2]
    return torch.as_tensor(pts[None].astype(np.float32), device=device)


def _resample_field(grid: torch.Tensor, occ: torch.Tensor, query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """grid (T, S, S, 2), occ (T, S, S) on the crop -> the same at query (1, H, W, 2); identity outside the crop."""
    t = grid.shape[0]
    q = query.expand(t, -1, -1, -1)
    g = torch.nn.functional.grid_sample(grid.permute(0, 3, 1, 2), q, padding_mode="border", align_corners=False)
    o = torch.nn.functional.grid_sample(occ[:, None], q, padding_mode="zeros", align_corners=False)[:, 0]
    inside = (q.abs() <= 1).all(-1, keepdim=True)
    return torch.where(inside, g.permute(0, 2, 3, 1), q), o


def _split_revision(weights: str) -> tuple[str, str | None]:
    if os.path.isdir(weights) or "@" not in weights:
        return weights, None
    repo, _, revision = weights.rpartition("@")
    return repo, revision or None


def load_model(weights: str, device: str = "cpu") -> FrondModel:
    """A local folder or a Hub repo id[@revision] -> FrondModel (safetensors only).

    Raises FrondInputError with one line when the folder is incomplete or the Hub cannot be reached.
    """
    weights = str(weights).strip()
    if not weights:
        raise FrondInputError("no weights given: pass a local folder or a Hub repo id[@revision]")
    repo, revision = _split_revision(weights)
    if os.path.isdir(repo):
        missing = [f for f in ("config.json", "model.safetensors") if not os.path.exists(os.path.join(repo, f))]
        if missing:
            raise FrondInputError(f"weights folder {repo} lacks {', '.join(missing)}: train with "
                                  "`python -m frond train --out DIR` or pass a Hub repo id")
        try:
            return FrondModel.from_pretrained(repo, map_location=device)
        except Exception as exc:  # noqa: BLE001 - corrupt or mismatched files
            raise FrondInputError(f"could not load FROND weights from {repo}: {type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''}.") from exc
    if repo.count("/") != 1 or repo.startswith(("/", ".")):
        raise FrondInputError(f"weights {weights!r} are neither a local folder nor a Hub repo id "
                              "of the form owner/name[@revision]")
    offline = go_offline_if_hub_unreachable(weights) is not None or os.environ.get("HF_HUB_OFFLINE", "") in TRUE
    try:
        return FrondModel.from_pretrained(repo, revision=revision, map_location=device)
    except Exception as exc:  # noqa: BLE001 - offline, not found, gated: all mean "use the prior"
        if offline:
            raise FrondInputError(f"FROND weights {weights!r}: the Hugging Face Hub cannot be reached and they are "
                                  "not in the local cache.") from exc
        first = (str(exc).splitlines() or [""])[0]
        first = first if len(first) <= 160 else first[:157].rsplit(" ", 1)[0] + "..."
        raise FrondInputError(f"could not get FROND weights {weights!r} from the Hugging Face Hub "
                              f"({type(exc).__name__}: {first}).") from exc


def load_learned_stages(weights: str, device: str = "cpu") -> dict[str, object]:
    """Learned stages for the stages the weights have trained.

    "render" -> "encoder", "field", "decoder"; "motion" -> "motion". Raises FrondInputError
    (one line) when the weights cannot be loaded or hold no trained stage.
    """
    model = load_model(weights, device).to(device)
    trained = set(model.config.trained_stages)
    if not trained:
        raise FrondInputError(f"weights {weights!r} hold no trained stage (config.trained_stages is empty)")
    stages: dict[str, object] = {}
    if "render" in trained:
        stages["encoder"] = LearnedKeypointEncoder(model, weights, device)
        stages["field"] = LearnedDenseField(model, weights, device)
        stages["decoder"] = LearnedDecoder(model, weights, device)
    if "motion" in trained:
        stages["motion"] = LearnedMotionEstimator(model, weights, device)
    return stages

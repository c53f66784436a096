"""The learned render stages (encoder, dense field, implicit decoder) behind the stage
protocols (`frond.stages`), backed by a `FrondModel` loaded from a folder or the Hub.

Conventions shared with the training-free path:
- keypoints (68, 2) in normalised crop space; the driving keypoints include the head's motion;
- `MotionSequence.head_pose` is the pose *change* from the source, degrees (yaw, pitch, roll);
  the networks' global stream gets the absolute pose = geometric pose of the source + change.
- the learned motion estimator (`frond.motion.learned`) runs in numpy and predicts the mouth
  only; blinks, brows and head pose come from the shared idle motion, as on the prior path.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import FrondInputError
from ..face.ibug import px_to_norm_affine
from ..hub import weights_folder
from ..stages import LearnedStages, learned_name
from ..types import AlignedFace, FieldFrame, OutputSpace, SourceEncoding
from .decoder import resample_grid
from .frond_model import FrondModel
from .geometry import head_pose_from_keypoints


def _image_tensor(image: np.ndarray, device: str) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def _vec(x: np.ndarray, device: str) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)[None]


class _Learned:
    learned = True

    def __init__(self, model: FrondModel, weights_id: str, device: str = "cpu") -> None:
        self.model = model.eval()
        self.device = device
        self.weights: str | None = weights_id
        self.name = learned_name(weights_id)


class LearnedKeypointEncoder(_Learned):
    """Stage 1: keypoints = the face's 68 landmarks; the two streams give the global code (G,) and
    per-keypoint features (68, C_k), which the learned field uses."""

    @torch.inference_mode()
    def encode(self, face: AlignedFace) -> SourceEncoding:
        kp = face.keypoints.astype(np.float32)
        pose = head_pose_from_keypoints(kp)
        enc = self.model.encoder(_image_tensor(face.image, self.device), _vec(kp, self.device), _vec(pose, self.device))
        return SourceEncoding(keypoints=kp, global_code=enc["global_code"][0].float().cpu().numpy(),
                              keypoint_features=enc["kp_features"][0].float().cpu().numpy())


class LearnedDenseField(_Learned):
    """Stage 3: the dense field network, evaluated at the output resolution."""

    def prepare(self, face: AlignedFace, source: SourceEncoding, space: OutputSpace) -> None:
        if source.keypoint_features is None:
            raise ValueError("the learned dense field needs the learned encoder's keypoint features (the same weights' encoder)")
        with torch.inference_mode():
            self.out_hw = (face.size, face.size)  # the network's field lives on the crop ...
            self.query = _output_query(space, face.size, self.device)  # ... and is resampled onto the output space
            self.source = _image_tensor(face.image, self.device)
            self.source_kp = _vec(source.keypoints, self.device)
            self.source_pose = head_pose_from_keypoints(np.asarray(source.keypoints, dtype=np.float32))
            self.kp_features = _vec(source.keypoint_features, self.device)
            self.source_code = _vec(source.global_code, self.device)

    @torch.inference_mode()
    def frames(self, driving_keypoints: np.ndarray, head_poses: np.ndarray) -> list[FieldFrame]:
        """Batched: driving_keypoints (T, 68, 2), head_poses (T, 3) change from the source -> T fields."""
        t = driving_keypoints.shape[0]
        kp = torch.as_tensor(np.asarray(driving_keypoints, np.float32), device=self.device)
        pose = torch.as_tensor(np.asarray(head_poses, np.float32) + self.source_pose[None], device=self.device)
        code = self.model.encoder.global_code(kp, pose)
        rep = lambda x: x.expand(t, *x.shape[1:])  # noqa: E731
        out = self.model.field(rep(self.source), rep(self.source_kp), kp, rep(self.kp_features),
                               rep(self.source_code), code, self.out_hw)
        grid, occ = out["grid"].float(), out["occlusion"].float()
        if self.query is not None:  # a continuous field: sample it at the output pixels' crop coordinates
            grid, occ = _resample_field(grid, occ, self.query)
        grid_np, occ_np = grid.cpu().numpy(), occ.cpu().numpy()
        return [FieldFrame(grid=grid_np[i], occlusion=occ_np[i]) for i in range(t)]


class LearnedDecoder(_Learned):
    """Stage 4: the implicit decoder, queried at the output's pixel centres (any resolution), a chunk of
    frames per call."""

    batched = True

    def prepare(self, face: AlignedFace, source: SourceEncoding, space: OutputSpace) -> None:
        with torch.inference_mode():
            self.out_hw = (space.height, space.width)
            self.source = _image_tensor(face.image, self.device)
            self.features = self.model.decoder.encode_source(self.source)

    @torch.inference_mode()
    def render_batch(self, fields: list[FieldFrame], driving_keypoints: np.ndarray) -> np.ndarray:
        """T fields (their grid and occlusion), driving_keypoints (T, 68, 2) unused -> (T, H, W, 3) uint8."""
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
        return self.render_batch([field], np.asarray(driving_keypoints)[None])[0]


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


def load_model(weights: str, device: str = "cpu") -> FrondModel:
    """A local folder or a Hub repo id[@revision] -> FrondModel (safetensors only).

    Raises FrondInputError with one line when the folder is incomplete or the Hub cannot be reached.
    """
    folder = weights_folder(weights)
    try:
        return FrondModel.from_pretrained(str(folder), map_location=device)
    except Exception as exc:  # noqa: BLE001 - corrupt or mismatched files
        raise FrondInputError(f"could not load FROND weights from {weights}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}.") from exc


def render_stages(weights: str, device: str = "cpu") -> LearnedStages:
    """The learned encoder, field and decoder of trained render weights (PyTorch)."""
    model = load_model(weights, device).to(device)
    return {"encoder": LearnedKeypointEncoder(model, weights, device), "field": LearnedDenseField(model, weights, device),
            "decoder": LearnedDecoder(model, weights, device)}

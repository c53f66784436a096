"""Sparse keypoint motions that the dense field fuses: local affine (first order) and TPS.

Every motion is a *backward* map z -> where to sample the source, given the source
keypoints s (B, K, 2) and the driving keypoints d (B, K, 2), normalised crop space.

- First order (FOMM, Siarohin et al. 2019, eq. 4): near keypoint k,
  T_k(z) = s_k + J_k (z - d_k). FOMM predicts J_k from the images; our keypoints are
  landmarks whose driving frame has no image at inference, so J_k is the least-squares
  affine that maps the driving layout of k's nearest landmarks onto their source layout,
  ridge-regularised towards the identity:
  J_k = (sum_j ds_j dd_j^T + eps I)(sum_j dd_j dd_j^T + eps I)^-1, ds_j = s_j - s_k,
  dd_j = d_j - d_k over the `neighbours` landmarks nearest to k in the source.
- Thin-plate spline (Bookstein 1989; TPSMM, Zhao & Zhang 2022, eq. 1-2): the smooth map
  with f(d_j) = s_j, f(z) = a_0 + A z + sum_j w_j U(|z - d_j|), U(r) = r^2 log r^2,
  solved with a small ridge so that coincident landmarks (closed inner lips) stay solvable.
"""
from __future__ import annotations

import torch

RIDGE = 0.1  # first order: eps = RIDGE * mean |dd|^2 (pulls a degenerate fit to the identity)
TPS_RIDGE = 1e-3  # TPS: added to the kernel's diagonal


def full_precision(fn):
    """Run fn in float32 with autocast off (linear solves are not bf16 operations)."""
    def wrapped(*args, **kwargs):
        device = next(a for a in args if isinstance(a, torch.Tensor)).device.type
        with torch.autocast(device, enabled=False):
            return fn(*(a.float() if isinstance(a, torch.Tensor) else a for a in args), **kwargs)
    wrapped.__doc__, wrapped.__name__ = fn.__doc__, fn.__name__
    return wrapped


@full_precision
def local_affines(source: torch.Tensor, driving: torch.Tensor, neighbours: int) -> torch.Tensor:
    """First-order motion: source, driving (B, K, 2) -> J (B, K, 2, 2), J_k = J_S J_D^-1 of FOMM eq. 4."""
    b, k, _ = source.shape
    n = min(neighbours, k - 1)
    with torch.no_grad():  # the neighbourhood is a discrete choice; J stays differentiable in the points
        dist = torch.cdist(source, source)
        dist.diagonal(dim1=1, dim2=2).fill_(float("inf"))
        idx = dist.topk(n, dim=-1, largest=False).indices  # (B, K, n)
    gather = lambda p: torch.gather(p[:, None].expand(-1, k, -1, -1), 2, idx[..., None].expand(-1, -1, -1, 2))  # noqa: E731
    ds = gather(source) - source[:, :, None]  # (B, K, n, 2)
    dd = gather(driving) - driving[:, :, None]
    eye = torch.eye(2, device=source.device, dtype=source.dtype)
    eps = RIDGE * (dd ** 2).sum(-1).mean(-1)[..., None, None] + 1e-8  # (B, K, 1, 1)
    cross = torch.einsum("bkni,bknj->bkij", ds, dd) + eps * eye
    gram = torch.einsum("bkni,bknj->bkij", dd, dd) + eps * eye
    return cross @ torch.linalg.inv(gram)


def first_order_grid(weights: torch.Tensor, source: torch.Tensor, driving: torch.Tensor, jacobians: torch.Tensor,
                     z: torch.Tensor) -> torch.Tensor:
    """sum_k w_k T_k(z) without forming the K per-keypoint grids.

    weights (B, K, H, W), keypoints (B, K, 2), jacobians (B, K, 2, 2), z (B, H, W, 2) -> (B, H, W, 2):
    sum_k w_k (s_k - J_k d_k) + (sum_k w_k J_k) z.
    """
    offset = source - torch.einsum("bkij,bkj->bki", jacobians, driving)
    linear = torch.einsum("bkhw,bkij->bhwij", weights, jacobians)
    return torch.einsum("bkhw,bkc->bhwc", weights, offset) + (linear @ z[..., None])[..., 0]


def _tps_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """U(|a_i - b_j|) = r^2 log r^2: a (B, N, 2), b (B, M, 2) -> (B, N, M)."""
    r2 = ((a[:, :, None] - b[:, None]) ** 2).sum(-1)
    return r2 * torch.log(r2 + 1e-9)


@full_precision
def tps_fit(driving: torch.Tensor, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve the TPS with f(d_j) = s_j: keypoints (B, K, 2) -> (w (B, K, 2), affine (B, 3, 2)), in float32."""
    d, s = driving, source
    b, k, _ = d.shape
    kernel = _tps_kernel(d, d) + TPS_RIDGE * torch.eye(k, device=d.device)
    p = torch.cat([torch.ones(b, k, 1, device=d.device), d], dim=-1)  # (B, K, 3)
    top = torch.cat([kernel, p], dim=-1)
    bottom = torch.cat([p.transpose(1, 2), torch.zeros(b, 3, 3, device=d.device)], dim=-1)
    rhs = torch.cat([s, torch.zeros(b, 3, 2, device=d.device)], dim=1)
    sol = torch.linalg.solve(torch.cat([top, bottom], dim=1), rhs)  # (B, K + 3, 2)
    return sol[:, :k], sol[:, k:]


@full_precision
def tps_apply(driving: torch.Tensor, w: torch.Tensor, affine: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Evaluate a fitted TPS: driving (B, K, 2), w (B, K, 2), affine (B, 3, 2), z (B, H, W, 2) -> (B, H, W, 2) float32."""
    b, h, wd, _ = z.shape
    pts = z.reshape(b, -1, 2)
    out = _tps_kernel(pts, driving) @ w + affine[:, :1] + pts @ affine[:, 1:]
    return out.view(b, h, wd, 2)

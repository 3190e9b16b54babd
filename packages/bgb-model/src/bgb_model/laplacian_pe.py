"""Dynamic Laplacian positional encoding: eigenvectors of each timestep's learned graph.

Policies (documented because the spectrum of a learned graph can be anything):

- Normalised Laplacian ``L = I - D^-1/2 A D^-1/2``. A node whose degree is not above
  ``DEGREE_EPS`` is treated as isolated: its ``D^-1/2`` entry is 0 (not inf), so its row of
  ``L`` is the identity row and the whole matrix stays finite.
- Eigenvectors are taken in ascending eigenvalue order; the first (the trivial one, eigenvalue 0
  for a connected graph) is dropped and the next ``k`` are kept.
- Sign rule: each eigenvector is flipped so that its largest-magnitude component is positive;
  components within a relative ``SIGN_TIE_RTOL`` of the largest count as tied, and the tie goes
  to the lowest node index. Within a degenerate eigenspace the basis itself is arbitrary; the
  output is then finite and deterministic for a given input, but not canonical.
- No gradient: the eigendecomposition runs under ``torch.no_grad`` (eigh's backward divides by
  eigenvalue gaps and is the classic NaN source on degenerate spectra), in float32 even under
  autocast, as one batched ``torch.linalg.eigh`` over all graphs.

References: Dwivedi et al. 2020 / 2022, Laplacian eigenvector positional encodings for graph
transformers; EvoBrain (Kotoge et al., 2025), dynamic per-timestep graph encodings for EEG.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "DEGREE_EPS",
    "SIGN_TIE_RTOL",
    "canonicalize_signs",
    "laplacian_pe",
    "normalized_laplacian",
]

DEGREE_EPS = 1e-12
"""Degrees at or below this are isolated nodes (their D^-1/2 entry is 0)."""

SIGN_TIE_RTOL = 1e-3
"""Components with |v_i| >= (1 - SIGN_TIE_RTOL) * max|v| tie for deciding the sign."""


def normalized_laplacian(adjacency: Tensor) -> Tensor:
    """``I - D^-1/2 A D^-1/2`` of symmetric non-negative adjacency matrices.

    Shapes: adjacency (..., N, N) -> (..., N, N), same dtype.
    """
    degree = adjacency.sum(dim=-1)  # (..., N)
    safe = torch.where(degree > DEGREE_EPS, degree, torch.ones_like(degree))
    inv_sqrt = torch.where(degree > DEGREE_EPS, safe.rsqrt(), torch.zeros_like(degree))
    scaled = inv_sqrt[..., :, None] * adjacency * inv_sqrt[..., None, :]  # (..., N, N)
    eye = torch.eye(adjacency.shape[-1], dtype=adjacency.dtype, device=adjacency.device)
    return eye - scaled


def canonicalize_signs(vectors: Tensor) -> Tensor:
    """Flip each eigenvector (column) so its largest-magnitude component is positive.

    Ties (within ``SIGN_TIE_RTOL``) go to the lowest node index. An all-zero column stays zero.

    Shapes: vectors (..., N, K) -> (..., N, K).
    """
    magnitude = vectors.abs()  # (..., N, K)
    largest = magnitude.amax(dim=-2, keepdim=True)  # (..., 1, K)
    tied = magnitude >= largest * (1.0 - SIGN_TIE_RTOL)  # (..., N, K)
    # argmax over a 0/1 tensor returns the first maximum: the lowest tied node index
    pivot = tied.to(torch.uint8).argmax(dim=-2, keepdim=True)  # (..., 1, K)
    pivot_value = vectors.gather(-2, pivot)  # (..., 1, K)
    sign = torch.where(pivot_value < 0, -1.0, 1.0).to(vectors.dtype)
    return vectors * sign


def laplacian_pe(adjacency: Tensor, k: int) -> Tensor:
    """The first ``k`` non-trivial, sign-canonical Laplacian eigenvectors of every graph.

    Runs without gradient, in float32, as one batched eigendecomposition.

    Shapes: adjacency (..., N, N) symmetric, non-negative -> PE (..., N, k) float32.

    Raises:
        ValueError: ``k`` is not in [1, N - 1] or the adjacency is not square.
        FloatingPointError: the adjacency holds NaN or inf (the message names the first graph).
    """
    n_nodes = adjacency.shape[-1]
    if adjacency.ndim < 2 or adjacency.shape[-2] != n_nodes:
        raise ValueError(f"laplacian_pe: adjacency must be (..., N, N), got {adjacency.shape}")
    if not 1 <= k <= n_nodes - 1:
        raise ValueError(f"laplacian_pe: k must be in [1, {n_nodes - 1}], got {k}")
    with torch.no_grad(), torch.autocast(adjacency.device.type, enabled=False):
        adj = adjacency.detach().float()
        finite = torch.isfinite(adj).flatten(-2).all(dim=-1)  # (...)
        if not bool(finite.all()):
            first = tuple(int(i) for i in (~finite).nonzero()[0])
            raise FloatingPointError(
                f"laplacian_pe: adjacency of graph {first} (batch index of shape "
                f"{tuple(finite.shape)}) holds NaN or inf; the edge stream produced it"
            )
        laplacian = normalized_laplacian(adj)
        _, vectors = torch.linalg.eigh(laplacian)  # (..., N, N), ascending eigenvalues
        return canonicalize_signs(vectors[..., 1 : k + 1])  # (..., N, k)

"""Mamba2 layer with mamba-ssm's parameters and two interchangeable scan backends.

The module holds exactly mamba-ssm's ``Mamba2`` parameters (names, shapes, initialisation), so a
checkpoint trained with the CUDA kernels loads and runs on a CPU with the same outputs. Only the
selective scan differs between backends:

- ``"kernel"``: mamba-ssm's Triton ``mamba_chunk_scan_combined`` (CUDA input, mamba-ssm installed);
- ``"torch"``: the exact pure-PyTorch chunked SSD of ``bgb_model._ssd`` (any device);
- ``"auto"``: the kernel when it is available and the input is on CUDA, else torch.

Which backend runs is logged once per process and backend. Nothing falls back silently: asking
for ``"kernel"`` where it cannot run raises ``RuntimeError`` with an install hint, and ``"auto"``
on a CUDA input without the kernels warns once (``RuntimeWarning`` and a log warning) that the
pure-PyTorch scan is running there.

References: Dao & Gu 2024, "Transformers are SSMs" (Mamba2, SSD); mamba-ssm v2.2
``mamba_ssm/modules/mamba2.py`` for the parameter layout.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bgb_model._mamba_kernel import INSTALL_HINT, kernel_chunk_scan, kernel_unavailable_reason
from bgb_model._norm import RMSNormGated
from bgb_model._ssd import ssd_chunk_scan

__all__ = ["Mamba2", "Mamba2Backend", "check_backend", "mamba_kernel_available"]

logger = logging.getLogger(__name__)

Mamba2Backend = Literal["auto", "kernel", "torch"]
_BACKENDS: tuple[str, ...] = get_args(Mamba2Backend)
_logged_choices: set[str] = set()


def mamba_kernel_available() -> bool:
    """True when mamba-ssm imports and CUDA is available in this process. Never raises."""
    return kernel_unavailable_reason() is None


def _log_once(message: str) -> None:
    if message not in _logged_choices:
        _logged_choices.add(message)
        logger.info(message)


def _warn_slow_cuda_once(reason: str) -> None:
    """backend="auto" on CUDA without the kernels: say so once per process, loudly."""
    message = (
        f"Mamba2 backend 'auto' is running the pure-PyTorch scan on CUDA ({reason}). Expect "
        "training several times slower and with more activation memory than mamba-ssm's "
        "kernels (benchmarks/bench_model_gpu.py measures both on a GPU); "
        f"{INSTALL_HINT}"
    )
    if message not in _logged_choices:
        _logged_choices.add(message)
        logger.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def check_backend(backend: str) -> None:
    """Raise before any work when ``backend`` cannot run in this process.

    Raises:
        ValueError: not one of "auto", "kernel", "torch".
        RuntimeError: "kernel" without CUDA or without an importable mamba-ssm, with the
            reason and how to install it.
    """
    if backend not in _BACKENDS:
        raise ValueError(f"Mamba2: backend must be one of {_BACKENDS}, got {backend!r}")
    if backend == "kernel" and not mamba_kernel_available():
        raise RuntimeError(
            f"Mamba2 backend 'kernel' cannot run here: {kernel_unavailable_reason()}; "
            f"{INSTALL_HINT}"
        )


class Mamba2(nn.Module):
    """Selective state-space layer (Mamba2), causal over the length axis.

    Steps: in_proj -> split (z, xBC, dt) -> causal depthwise conv + SiLU on xBC -> split (x, B, C)
    -> selective scan with dt = softplus(dt + dt_bias), A = -exp(A_log), skip D -> gated
    RMSNorm(y * silu(z)) -> out_proj.

    Args:
        d_model: input and output width.
        d_state: SSM state size N per head.
        d_conv: width of the causal depthwise convolution.
        expand: d_inner = expand * d_model.
        headdim: head width P; d_inner must be a multiple of it (nheads = d_inner / P).
        ngroups: number of B/C groups shared by contiguous blocks of heads.
        chunk_size: SSD chunk length of the kernel scan (speed only; outputs do not depend on
            it, beyond rounding).
        torch_chunk_size: chunk length of the pure-PyTorch scan; None uses ``chunk_size``. The
            detector's configs set it apart (32) because that path is several times faster and
            lighter with short chunks than with the kernel's 256.
        backend: "auto", "kernel" or "torch" (see the module docstring).
        dt_min, dt_max: the initial dt is log-uniform in [dt_min, dt_max] ...
        dt_init_floor: ... and at least this; stored through the inverse softplus in dt_bias.
        A_init_range: A is initialised uniform in this range and stored as A_log = log(A).
        dt_limit: (low, high) bounds applied to dt after softplus, as in mamba-ssm; the default
            (0, inf) applies none.
        conv_init: if given, conv1d weights are uniform in [-conv_init, conv_init].
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 128,
        d_conv: int = 4,
        expand: int = 2,
        headdim: int = 64,
        ngroups: int = 1,
        chunk_size: int = 256,
        backend: Mamba2Backend = "auto",
        *,
        torch_chunk_size: int | None = None,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        A_init_range: tuple[float, float] = (1.0, 16.0),
        dt_limit: tuple[float, float] = (0.0, float("inf")),
        conv_init: float | None = None,
    ) -> None:
        super().__init__()
        d_inner = expand * d_model
        torch_chunk = chunk_size if torch_chunk_size is None else torch_chunk_size
        _check_sizes(d_model, d_state, d_conv, d_inner, headdim, ngroups, chunk_size)
        if torch_chunk < 1:
            raise ValueError(f"Mamba2: torch_chunk_size must be >= 1, got {torch_chunk}")
        check_backend(backend)
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"Mamba2: need 0 < dt_min <= dt_max, got {dt_min}, {dt_max}")
        if not 0 < A_init_range[0] <= A_init_range[1]:
            raise ValueError(f"Mamba2: need 0 < A_init_range[0] <= [1], got {A_init_range}")
        self.d_model = d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.expand = expand
        self.d_inner = d_inner
        self.headdim = headdim
        self.nheads = d_inner // headdim
        self.ngroups = ngroups
        self.chunk_size = chunk_size
        self.torch_chunk_size = torch_chunk
        self.backend: Mamba2Backend = backend
        self.dt_limit = dt_limit

        # Order of in_proj's outputs, as in mamba-ssm: [z, x, B, C, dt].
        conv_dim = d_inner + 2 * ngroups * d_state
        self.in_proj = nn.Linear(d_model, d_inner + conv_dim + self.nheads, bias=False)
        self.conv1d = nn.Conv1d(
            conv_dim, conv_dim, kernel_size=d_conv, groups=conv_dim, padding=d_conv - 1, bias=True
        )
        if conv_init is not None:
            nn.init.uniform_(self.conv1d.weight, -conv_init, conv_init)

        log_dt = torch.rand(self.nheads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        dt = torch.exp(log_dt).clamp(min=dt_init_floor)  # the documented init floor
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1(dt)
        A = torch.empty(self.nheads).uniform_(*A_init_range)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.nheads))

        self.norm = RMSNormGated(d_inner, group_size=d_inner // ngroups, eps=1e-5)
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def forward(self, u: Tensor) -> Tensor:
        """Apply the layer; the output at step t depends only on inputs up to t.

        Shapes: u (batch, length, d_model) -> (batch, length, d_model).
        """
        if u.dim() != 3 or u.shape[-1] != self.d_model:
            raise ValueError(
                f"Mamba2: expected input (batch, length, {self.d_model}), got {tuple(u.shape)}"
            )
        batch, length, _ = u.shape
        zxbcdt = self.in_proj(u)  # (b, l, d_inner + conv_dim + h)
        z, xBC, dt = torch.split(
            zxbcdt, [self.d_inner, self.conv1d.in_channels, self.nheads], dim=-1
        )
        xBC = F.silu(self._causal_conv(xBC))  # (b, l, conv_dim)
        x, B, C = torch.split(
            xBC, [self.d_inner, self.ngroups * self.d_state, self.ngroups * self.d_state], dim=-1
        )
        x = x.reshape(batch, length, self.nheads, self.headdim)  # (b, l, h, p)
        B = B.reshape(batch, length, self.ngroups, self.d_state)  # (b, l, g, n)
        C = C.reshape(batch, length, self.ngroups, self.d_state)  # (b, l, g, n)
        # float32 at least, as in mamba-ssm (exp of a float16 A_log could be inf); float64 stays.
        A = -torch.exp(self.A_log.to(torch.promote_types(self.A_log.dtype, torch.float32)))  # (h,)
        if self._use_kernel(u):
            y = kernel_chunk_scan(
                x, dt, A, B, C, self.D, self.dt_bias, self.chunk_size, self.dt_limit
            )
        else:
            y = self._torch_scan(x, dt, A, B, C)
        y = self.norm(y.flatten(-2), z)  # (b, l, d_inner)
        out: Tensor = self.out_proj(y.to(self.out_proj.weight.dtype))  # (b, l, d_model)
        return out

    def _causal_conv(self, xBC: Tensor) -> Tensor:
        """``conv1d`` over the length axis, causal, read in place from the (b, l, c) layout.

        The (b, l, c) slice of in_proj's output, seen as (b, c, 1, l), is a channels-last
        image, which oneDNN's depthwise convolution reads directly and writes channels-last:
        each step's c values stay adjacent, in the input and in the result. ``conv1d`` would
        copy the input to (b, c, l) and the output back, and on CPU runs oneDNN's slower
        layout (4x the time for the edge stream's 171 x 960 x 48). Same weights, same function.

        Shapes: xBC (b, l, conv_dim) -> (b, l, conv_dim).
        """
        length = xBC.shape[1]
        image = xBC.transpose(1, 2).unsqueeze(2)  # (b, c, 1, l), channels-last strides
        weight = self.conv1d.weight.unsqueeze(2)  # (c, 1, 1, k)
        out = F.conv2d(
            image,
            weight,
            self.conv1d.bias,
            padding=(0, self.d_conv - 1),
            groups=self.conv1d.in_channels,
        )  # (b, c, 1, l + k - 1): the first l outputs see only the current and past steps
        return out[..., :length].squeeze(2).transpose(1, 2)

    def _torch_scan(self, x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor) -> Tensor:
        """The pure-PyTorch scan, with softplus(dt + dt_bias) in the compute dtype."""
        dtype = torch.promote_types(dt.dtype, torch.float32)
        with torch.autocast(device_type=dt.device.type, enabled=False):
            step = F.softplus(dt.to(dtype) + self.dt_bias.to(dtype))  # (b, l, h)
            if self.dt_limit != (0.0, float("inf")):
                step = step.clamp(min=self.dt_limit[0], max=self.dt_limit[1])  # the dt_limit rule
        return ssd_chunk_scan(x, step, A, B, C, self.D, self.torch_chunk_size)

    def _use_kernel(self, u: Tensor) -> bool:
        """Resolve the backend for this input, logging the choice once per process."""
        if self.backend == "torch":
            _log_once("Mamba2 backend: torch (requested)")
            return False
        if self.backend == "kernel":
            if not u.is_cuda:
                raise RuntimeError(
                    f"Mamba2(backend='kernel') got an input on {u.device}; the mamba-ssm kernel "
                    "runs on CUDA only: move the model to CUDA or use backend='torch' or 'auto'"
                )
            _log_once("Mamba2 backend: kernel (requested)")
            return True
        if not u.is_cuda:
            _log_once(f"Mamba2 backend: torch (auto; input on {u.device})")
            return False
        reason = kernel_unavailable_reason()
        if reason is None:
            _log_once("Mamba2 backend: kernel (auto)")
            return True
        _warn_slow_cuda_once(reason)
        return False

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, d_state={self.d_state}, d_conv={self.d_conv}, "
            f"expand={self.expand}, headdim={self.headdim}, nheads={self.nheads}, "
            f"ngroups={self.ngroups}, chunk_size={self.chunk_size}, "
            f"torch_chunk_size={self.torch_chunk_size}, backend={self.backend!r}"
        )


def _check_sizes(
    d_model: int, d_state: int, d_conv: int, d_inner: int, headdim: int, ngroups: int, chunk: int
) -> None:
    """Raise ValueError naming the first size that cannot build a Mamba2 layer."""
    for name, value in (
        ("d_model", d_model),
        ("d_state", d_state),
        ("d_conv", d_conv),
        ("d_inner", d_inner),
        ("headdim", headdim),
        ("ngroups", ngroups),
        ("chunk_size", chunk),
    ):
        if value < 1:
            raise ValueError(f"Mamba2: {name} must be >= 1, got {value}")
    if d_inner % headdim != 0:
        raise ValueError(
            f"Mamba2: d_inner={d_inner} (expand * d_model) is not a multiple of headdim={headdim}"
        )
    if (d_inner // headdim) % ngroups != 0:
        raise ValueError(
            f"Mamba2: nheads={d_inner // headdim} is not a multiple of ngroups={ngroups}"
        )

"""Training on several devices: one process per device under ``torchrun``, DistributedDataParallel.

Policies (what a user of ``torchrun --nproc-per-node N bgb-train CONFIG`` gets):

- ``training.batch_size`` is the **global** batch; each of the N processes takes
  ``batch_size / N`` windows per step (it must divide evenly), so a run on N devices follows
  the same optimisation as a run on one device with the same config.
- Each epoch's draw (balanced or uniform, from the seed and the epoch alone, so the same on
  every rank) is split across ranks: rank r takes draw positions r, r + N, r + 2N, ... Every
  global batch is therefore the single-process batch, and each drawn window is seen once per
  epoch. A draw not divisible by N loses its last (at most N - 1) windows.
- BatchNorm statistics are computed over the global batch (:class:`SyncBatchNorm1d`, which
  works with gloo on CPU as with NCCL on GPUs), so normalisation does not depend on N.
- The logged training loss is the mean over ranks; a non-finite loss stops every rank.
- An exception on one rank ends every rank within seconds: the failing rank posts its message
  in the launch's key-value store (:class:`FailureChannel`), and each rank's watcher thread,
  seeing it, prints it and exits, instead of waiting in a collective until its timeout.
- Validation (whole dev recordings) runs on rank 0 only; the others wait, then receive its
  metrics, so early stopping decides the same everywhere. Only rank 0 writes checkpoints,
  TensorBoard logs, ``metrics.csv`` and progress output.

``torchrun`` announces the process layout in ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``;
:func:`init_distributed` is the one place that reads them.
"""

from __future__ import annotations

import datetime
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = [
    "COLLECTIVE_TIMEOUT",
    "DistributedContext",
    "FailureChannel",
    "NullWriter",
    "ShardedSampler",
    "SyncBatchNorm1d",
    "convert_batchnorm",
    "init_distributed",
    "local_batch_size",
    "mean_across_ranks",
    "report_failure",
    "run_on_main",
    "shard",
    "shutdown",
    "wrap_model",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

COLLECTIVE_TIMEOUT = datetime.timedelta(hours=3)
"""How long ranks wait for each other: long enough for rank 0 to validate on all of TUSZ dev."""


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in a torchrun launch."""

    rank: int
    local_rank: int
    world_size: int
    device: torch.device
    """The device of this rank: ``cuda:<local_rank>``, or the CPU."""
    failures: FailureChannel | None = field(default=None, compare=False, repr=False)
    """Where this rank reports its failure and watches for the others' (None in tests that
    build a context by hand)."""

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that validates and writes."""
        return self.rank == 0


def init_distributed(
    device_choice: str, environ: Mapping[str, str] | None = None
) -> DistributedContext | None:
    """Join the process group when launched by torchrun; None for a plain single process.

    ``device_choice`` is ``training.device``: ``auto``/``cuda`` with CUDA present gives NCCL and
    one GPU per local rank, otherwise gloo on the CPU.

    Raises:
        RuntimeError: more ranks on this machine than GPUs, or ``cuda`` asked without CUDA.
    """
    environ = os.environ if environ is None else environ
    if "WORLD_SIZE" not in environ:
        return None
    rank, local_rank = int(environ["RANK"]), int(environ["LOCAL_RANK"])
    world_size = int(environ["WORLD_SIZE"])
    use_cuda = device_choice != "cpu" and torch.cuda.is_available()
    if device_choice == "cuda" and not use_cuda:
        raise RuntimeError("device 'cuda' was asked for, but torch sees no CUDA device")
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"local rank {local_rank} has no GPU: {torch.cuda.device_count()} visible; "
                "start at most one process per GPU (torchrun --nproc-per-node)"
            )
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if use_cuda else "gloo",
            timeout=COLLECTIVE_TIMEOUT,
            device_id=device if use_cuda else None,
        )
    # torch documents TCPStore and PrefixStore as torch.distributed's, but its stubs do not
    # re-export them
    store = dist.TCPStore(  # type: ignore[attr-defined]
        environ["MASTER_ADDR"], int(environ["MASTER_PORT"]), is_master=False,
        timeout=datetime.timedelta(seconds=60),
    )  # fmt: skip
    prefixed = dist.PrefixStore("bgb_failure", store)  # type: ignore[attr-defined]
    failures = FailureChannel(
        prefixed,
        rank,
    )
    failures.start()
    return DistributedContext(rank, local_rank, world_size, device, failures)


def shutdown(context: DistributedContext | None, failed: bool = False) -> None:
    """Leave the process group (after the last collective; rank 0 may still be evaluating).

    After a failure the group is left as it is: the other ranks may be inside a collective,
    and destroying it could block this process too.
    """
    if context is None:
        return
    if context.failures is not None:
        context.failures.stop()
    if not failed and dist.is_initialized():
        dist.destroy_process_group()


def report_failure(context: DistributedContext | None, error: BaseException) -> None:
    """Tell every other rank that this one failed, with ``error``'s message (no-op alone)."""
    if context is not None and context.failures is not None:
        context.failures.report(f"{type(error).__name__}: {error}")


class FailureChannel:
    """Fail-fast across ranks through the launch's key-value store (torchrun's TCPStore).

    :meth:`report` posts ``rank N: message`` under one key; a daemon thread started by
    :meth:`start` checks that key every ``poll_s`` seconds and, when another rank posted it,
    calls ``on_failure`` with the message. The default ``on_failure`` prints the message to
    stderr and ends the process at once (``os._exit``): the main thread may be blocked inside
    a collective that only its timeout (hours) would end, and nothing remains to be saved.
    """

    KEY = "failed"

    def __init__(
        self,
        store: Any,
        rank: int,
        poll_s: float = 1.0,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.rank = rank
        self.poll_s = poll_s
        self.on_failure = on_failure if on_failure is not None else self._exit
        self._stopped = threading.Event()
        self._reported = False
        self._thread = threading.Thread(target=self._watch, name="bgb-failure-watch", daemon=True)

    def start(self) -> None:
        """Start watching for another rank's failure."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the thread ends within ``poll_s``)."""
        self._stopped.set()

    def report(self, message: str, linger: bool = True) -> None:
        """Post this rank's failure (the first report of a launch is the one kept).

        With ``linger``, wait two polling periods before returning, so that the other ranks
        print the message before this process exits and the launcher (torchrun ends every
        rank once one has exited) tears them down.
        """
        self._reported = True
        self.store.compare_set(self.KEY, "", f"rank {self.rank}: {message}")
        if linger:
            time.sleep(2 * self.poll_s)

    def _watch(self) -> None:
        while not self._stopped.wait(self.poll_s):
            if self._reported or not self.store.check([self.KEY]):
                continue
            message = self.store.get(self.KEY).decode(errors="replace")
            if not message.startswith(f"rank {self.rank}:"):
                self.on_failure(message)
                return

    def _exit(self, message: str) -> None:
        # logging's stream handlers flush each record (Python's last-resort handler too,
        # when the caller configured none), so the line is out before os._exit
        log.error("rank %d stops because %s", self.rank, message)
        os._exit(1)


def local_batch_size(global_batch: int, context: DistributedContext | None) -> int:
    """Windows per step on this rank.

    Raises:
        ValueError: the global batch does not split evenly across ranks.
    """
    if context is None:
        return global_batch
    if global_batch % context.world_size:
        raise ValueError(
            f"training.batch_size={global_batch} is the global batch and must be a multiple of "
            f"the {context.world_size} processes"
        )
    return global_batch // context.world_size


class ShardedSampler:
    """One rank's share of another sampler's epoch draw: positions rank, rank + N, ...

    Every rank iterates the same draw (the wrapped sampler depends on seed and epoch only),
    so the shares are disjoint and together hold the draw once (less its last
    ``len % N`` items, which would leave the ranks with unequal step counts).
    """

    def __init__(self, sampler: Any, rank: int, world_size: int) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside 0..{world_size - 1}")
        self.sampler = sampler
        self.rank = rank
        self.world_size = world_size

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose draw the next iteration splits."""
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler) // self.world_size

    def __iter__(self) -> Iterator[int]:
        drawn = list(self.sampler)[: len(self) * self.world_size]
        return iter(drawn[self.rank :: self.world_size])


def shard(sampler: Any, context: DistributedContext | None) -> Any:
    """``sampler`` itself in a single process, else this rank's :class:`ShardedSampler`."""
    if context is None:
        return sampler
    return ShardedSampler(sampler, context.rank, context.world_size)


class _SumAcrossRanks(torch.autograd.Function):
    """All-reduce (sum) whose gradient is the all-reduced gradient, for statistics in a graph."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor) -> Tensor:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


class SyncBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d whose training statistics cover the batches of all ranks.

    The same parameters and buffers as ``nn.BatchNorm1d`` (a checkpoint loads either way).
    In training mode with a process group of several ranks, the per-channel sum and sum of
    squares are summed across ranks (differentiably), so mean, variance and the running
    statistics are those of the global batch; otherwise it is ``nn.BatchNorm1d``. Unlike
    ``torch.nn.SyncBatchNorm`` it also runs on the CPU (gloo).

    Shapes: x (N, C, L) or (N, C) -> same.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        # statistics in fp32 at least, also under autocast, as nn.BatchNorm1d computes them
        x = x.to(torch.promote_types(x.dtype, torch.float32))
        channels = x.shape[1]
        reduce_dims = [0, *range(2, x.dim())]
        shape = [1, channels] + [1] * (x.dim() - 2)
        local_count = x.new_full((1,), x.numel() // channels)
        # 1. global mean per channel and global count: one all-reduce
        sums = _SumAcrossRanks.apply(torch.cat([x.sum(dim=reduce_dims), local_count]))
        n = float(sums[-1].item())
        mean = sums[:channels] / n
        # 2. biased variance from deviations about the global mean, a second all-reduce. Two
        # passes, because E[x^2] - E[x]^2 loses about log10(mean^2 / var) digits to
        # cancellation, enough to make one process and several train differently.
        centred = x - mean.view(shape)
        var = _SumAcrossRanks.apply((centred * centred).sum(dim=reduce_dims)) / n
        # 3. running statistics (unbiased variance), as nn.BatchNorm1d updates them
        if self.track_running_stats and self.running_mean is not None:
            assert self.running_var is not None and self.num_batches_tracked is not None
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else self.momentum
                )
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * n / max(n - 1.0, 1.0), momentum)
        # 4. normalise with the global statistics
        y: Tensor = centred * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``nn.BatchNorm1d`` inside ``module`` by a :class:`SyncBatchNorm1d` holding
    the same parameters and buffers (in place; returns ``module``)."""
    for name, child in list(module.named_children()):
        if type(child) is nn.BatchNorm1d:
            # the weight (or, without affine, the running mean) gives device and float dtype
            template = next(itertools.chain(child.parameters(), child.buffers()), torch.empty(0))
            synced = SyncBatchNorm1d(
                child.num_features,
                eps=child.eps,
                momentum=child.momentum,
                affine=child.affine,
                track_running_stats=child.track_running_stats,
            ).to(device=template.device, dtype=template.dtype)
            synced.load_state_dict(child.state_dict())
            setattr(module, name, synced)
        else:
            convert_batchnorm(child)
    return module


def wrap_model(model: nn.Module, context: DistributedContext | None) -> nn.Module:
    """The module to train: ``model`` itself, or DistributedDataParallel around it with
    BatchNorm synchronised. ``model`` keeps its parameters (shared with the wrapper), so
    checkpoints and validation use it unchanged."""
    if context is None:
        return model
    convert_batchnorm(model)
    device_ids = [context.local_rank] if context.device.type == "cuda" else None
    # buffers (BatchNorm running statistics) stay equal on all ranks: no per-step broadcast
    return nn.parallel.DistributedDataParallel(
        model, device_ids=device_ids, broadcast_buffers=False
    )


def mean_across_ranks(value: Tensor, context: DistributedContext | None) -> Tensor:
    """The mean of a scalar over ranks (the value itself in a single process)."""
    if context is None:
        return value
    total = value.detach().to(torch.promote_types(value.dtype, torch.float32), copy=True)
    dist.all_reduce(total)
    return total / context.world_size


class NullWriter:
    """Stands in for TensorBoard's SummaryWriter on ranks other than 0: writes nothing."""

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        """Discard a scalar."""

    def close(self) -> None:
        """Nothing to close."""


def run_on_main(function: Callable[[], T], context: DistributedContext | None) -> T:
    """Call ``function`` on rank 0 only and return its (picklable) result on every rank."""
    if context is None:
        return function()
    box: list[Any] = [function() if context.is_main else None]
    dist.broadcast_object_list(box, src=0)
    result: T = box[0]
    return result

"""One rank of ``test_parts.py``'s two-process check; run by torchrun, not collected by pytest.

Usage: ``torchrun --nproc-per-node 2 gloo_worker.py INPUT.pt OUT_DIR``: loads the batch and
weights, runs this rank's half through a synchronised BatchNorm, writes what it saw.
``torchrun --nproc-per-node 2 gloo_worker.py fail``: rank 1 reports a failure and stays alive;
rank 0 waits in a collective that rank 1 never joins, until the failure ends it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from bgb.training.distributed import (
    convert_batchnorm,
    init_distributed,
    mean_across_ranks,
    report_failure,
    run_on_main,
    shutdown,
)


def fail() -> None:
    context = init_distributed("cpu")
    assert context is not None
    if context.rank == 1:
        report_failure(context, RuntimeError("injected on rank 1"))
        time.sleep(600)  # alive, so that only rank 0's watcher can end the launch quickly
    dist.all_reduce(torch.ones(1))  # never completes: rank 1 does not join


def main(inputs: Path, out_dir: Path) -> None:
    context = init_distributed("cpu")
    assert context is not None and context.device.type == "cpu"
    given = torch.load(inputs, weights_only=True)
    model = convert_batchnorm(nn.Sequential(nn.Conv1d(3, 4, 3), nn.BatchNorm1d(4)))
    model.load_state_dict(given["weights"])
    half = given["x"].shape[0] // context.world_size
    part = given["x"][context.rank * half : (context.rank + 1) * half].clone().requires_grad_()
    out = model(part)
    # the whole batch's loss is the mean over ranks of each rank's mean (DDP averages grads)
    (out.square().mean() / context.world_size).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    for grad in grads.values():
        dist.all_reduce(grad)
    result = {
        "out": out.detach(),
        "input_grad": part.grad,
        "grads": grads,
        "state": model.state_dict(),
        "loss": mean_across_ranks(torch.tensor(float(context.rank + 1)), context),
        "shared": run_on_main(lambda: "from rank 0", context),
    }
    torch.save(result, out_dir / f"rank{context.rank}.pt")
    shutdown(context)


if __name__ == "__main__":
    if sys.argv[1] == "fail":
        fail()
    else:
        main(Path(sys.argv[1]), Path(sys.argv[2]))

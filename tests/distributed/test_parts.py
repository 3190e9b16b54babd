"""DDP building blocks: the sharded sampler, the global batch, and gloo collectives (two real
processes on the CPU) for BatchNorm statistics, the mean loss and rank-0-only work."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from bgb.training.data import EpochSampler
from bgb.training.distributed import (
    DistributedContext,
    ShardedSampler,
    SyncBatchNorm1d,
    convert_batchnorm,
    init_distributed,
    local_batch_size,
)

WORKER = Path(__file__).with_name("gloo_worker.py")


@pytest.mark.parametrize(("n_items", "world_size"), [(12, 2), (13, 2), (10, 3), (4, 4)])
def test_shards_are_disjoint_and_cover_the_draw_once(n_items: int, world_size: int) -> None:
    base = EpochSampler(n_items=50, n_per_epoch=n_items, seed=5)
    for epoch in (0, 3):
        base.set_epoch(epoch)
        drawn = list(base)
        shards = [ShardedSampler(base, rank, world_size) for rank in range(world_size)]
        for shard in shards:
            shard.set_epoch(epoch)
        seen = [list(shard) for shard in shards]
        assert {len(s) for s in seen} == {n_items // world_size} == {len(s) for s in shards}
        kept = drawn[: (n_items // world_size) * world_size]
        assert sorted(i for s in seen for i in s) == sorted(kept)
        # each global batch of the single process is the union of the ranks' batches
        assert [x for step in zip(*seen, strict=True) for x in step] == kept


def test_global_batch_splits_evenly_or_fails_clearly() -> None:
    two = DistributedContext(rank=0, local_rank=0, world_size=2, device=torch.device("cpu"))
    assert local_batch_size(8, None) == 8 and local_batch_size(8, two) == 4
    with pytest.raises(ValueError, match=r"batch_size=5 is the global batch .* multiple of the 2"):
        local_batch_size(5, two)
    with pytest.raises(ValueError, match="rank 2 outside"):
        ShardedSampler(EpochSampler(4, None, 0), rank=2, world_size=2)


def test_a_plain_process_is_not_distributed() -> None:
    assert init_distributed("auto") is None


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process_on_the_whole_batch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 3, 20) * 3 + 1
    reference = nn.Sequential(nn.Conv1d(3, 4, 3), nn.BatchNorm1d(4))
    weights = {k: v.clone() for k, v in reference.state_dict().items()}
    whole = x.clone().requires_grad_()
    expected = reference(whole)
    expected.square().mean().backward()

    torch.save({"x": x, "weights": weights}, tmp_path / "inputs.pt")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    command = [*torchrun, str(WORKER), str(tmp_path / "inputs.pt"), str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]

    torch.testing.assert_close(torch.cat([r["out"] for r in results]), expected.detach())
    torch.testing.assert_close(torch.cat([r["input_grad"] for r in results]), whole.grad)
    for name, param in reference.named_parameters():
        for result in results:
            torch.testing.assert_close(result["grads"][name], param.grad, msg=name)
    for name, buffer in reference.state_dict().items():
        for result in results:  # running statistics of the global batch, on every rank
            torch.testing.assert_close(result["state"][name], buffer, msg=name)
    assert [float(r["loss"]) for r in results] == [1.5, 1.5]
    assert [r["shared"] for r in results] == ["from rank 0"] * 2


@pytest.mark.slow
def test_a_failing_rank_ends_a_rank_waiting_in_a_collective_within_seconds() -> None:
    import time

    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    started = time.monotonic()
    done = subprocess.run([*torchrun, str(WORKER), "fail"], capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    # rank 1 stays alive after reporting: only rank 0's watcher can end the launch, and the
    # gloo collective it waits in would otherwise time out after COLLECTIVE_TIMEOUT (3 h)
    assert "rank 0 stops because rank 1: RuntimeError: injected on rank 1" in done.stderr
    assert elapsed < 60, elapsed


def test_sync_batchnorm_is_batchnorm_outside_a_process_group() -> None:
    torch.manual_seed(1)
    plain = nn.BatchNorm1d(5)
    synced = convert_batchnorm(nn.Sequential(nn.BatchNorm1d(5)))[0]
    assert isinstance(synced, SyncBatchNorm1d)
    assert synced.state_dict().keys() == plain.state_dict().keys()
    x = torch.randn(6, 5, 7)
    torch.testing.assert_close(synced(x), plain(x))
    torch.testing.assert_close(synced.running_var, plain.running_var)


def test_a_failure_reaches_the_other_ranks_with_its_message() -> None:
    import datetime
    import threading
    import time

    import torch.distributed as dist

    from bgb.training.distributed import FailureChannel

    server = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False,
                           timeout=datetime.timedelta(seconds=10))  # fmt: skip
    heard: dict[int, str] = {}
    arrived = threading.Event()

    def listener(rank: int) -> Callable[[str], None]:
        def on_failure(message: str) -> None:
            heard[rank] = message
            arrived.set()

        return on_failure

    channels = [FailureChannel(dist.PrefixStore("bgb_failure", server), rank, poll_s=0.05,
                               on_failure=listener(rank)) for rank in range(3)]  # fmt: skip
    channels[1].report("RuntimeError: out of memory", linger=False)
    channels[2].report(
        "RuntimeError: a second failure", linger=False
    )  # the first report is the one kept
    for channel in channels:
        channel.start()
    assert arrived.wait(timeout=10)
    time.sleep(0.3)  # several polls: the ranks that failed themselves are not told again
    assert heard == {0: "rank 1: RuntimeError: out of memory"}
    for channel in channels:
        channel.stop()

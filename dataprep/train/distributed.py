"""DDP setup and the few collective operations the loop needs.

A run is distributed when launched by torchrun (which sets RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT) with WORLD_SIZE > 1; otherwise every
helper here degrades to the single-process answer, so the loop has one code
path. Backend: nccl on CUDA, gloo on CPU.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ..errors import UsageError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes checkpoints and logs and prints."""
        return self.rank == 0


def env_info() -> DistInfo:
    """Rank and world size from the launcher's environment (single process when unset)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    return DistInfo(rank, world, local)


def resolve_device(requested: str, info: DistInfo) -> torch.device:
    """'auto' -> this rank's GPU if CUDA is available, else CPU; 'cuda' -> cuda:LOCAL_RANK."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(None, f"device {requested!r} requested but CUDA is not available (use --device cpu)")
        if requested == "cuda":
            requested = f"cuda:{info.local_rank}"
        device = torch.device(requested)
        torch.cuda.set_device(device)
        return device
    return torch.device(requested)


def setup(device: torch.device, info: DistInfo | None = None) -> DistInfo:
    """Join the process group when the launcher asked for several processes."""
    info = info or env_info()
    if info.distributed and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        kwargs: dict[str, Any] = {"backend": backend}
        if device.type == "cuda":
            kwargs["device_id"] = device  # binds NCCL to this rank's GPU up front
        dist.init_process_group(**kwargs)
    return info


def teardown(*, synchronize: bool = True) -> None:
    """Leave the process group so that no rank can abort at exit.

    After a run that ended normally (`synchronize`), every rank first waits at a
    barrier, so none leaves while a peer is still in a collective; a rank that
    failed skips it (its peers may be inside another collective, which would
    hang). Then the group is destroyed. Destroying it normally joins
    gloo's worker threads, but a DistributedDataParallel wrapper, once created,
    keeps gloo's backend alive from C++ (the group's reference count stays up
    after the wrapper is deleted and collected; `pt_gloo_runloop` threads remain).
    Those threads release each finished work, and the tensors it holds, just
    after the work completes; a release that lands while the interpreter shuts
    down cannot take the GIL, the thread is ended inside a C++ destructor, and
    the process dies with SIGABRT ("terminate called without an active
    exception"). So before returning, this waits (at most a second) until
    gloo's threads are idle.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        if synchronize and dist.get_world_size() > 1:
            dist.barrier()
    finally:
        dist.destroy_process_group()
        _wait_for_idle_backend_threads()


_BACKEND_THREADS = ("pt_gloo_runloop", "gloo_tcp_loop")


def _backend_threads_busy() -> bool | None:
    """Whether a gloo thread of this process is running or runnable; None where that cannot be read."""
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:  # not Linux
        return None
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        name, state = stat[stat.find("(") + 1 : stat.rfind(")")], stat[stat.rfind(")") + 2 : stat.rfind(")") + 3]
        if name in _BACKEND_THREADS and state not in ("S", "I"):
            return True
    return False


def _wait_for_idle_backend_threads(timeout: float = 1.0) -> None:
    # Sleeping releases the GIL: a gloo thread waiting for it to release a work's tensors gets it here.
    import time

    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
        busy = _backend_threads_busy()
        if busy is None:
            return
        quiet = 0 if busy else quiet + 1


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def wrap_model(model: nn.Module, device: torch.device, *, sync_bn: bool = False) -> nn.Module:
    """DistributedDataParallel around `model` when distributed; `model` itself otherwise."""
    if not active():
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    if sync_bn and device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return DDP(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") and isinstance(model.module, nn.Module) else model


def barrier() -> None:
    if active():
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over ranks, in place; returns the tensor."""
    if active():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_max(tensor: torch.Tensor) -> torch.Tensor:
    """Element-wise maximum over ranks, in place; returns the tensor."""
    if active():
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor


def all_reduce_min_int(value: int, device: torch.device) -> int:
    """The smallest `value` over ranks (e.g. batches per epoch, so no rank waits on a missing step)."""
    if not active():
        return value
    t = torch.tensor([value], dtype=torch.int64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t.item())


def all_gather_objects(obj: Any) -> list[Any]:
    """[obj of rank 0, obj of rank 1, ...] (one per rank; [obj] when not distributed)."""
    if not active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def average_buffers(model: nn.Module) -> None:
    """Average floating-point buffers (BatchNorm running stats) over ranks.

    DDP keeps parameters identical but each rank's BatchNorm statistics follow
    its own batches; averaging them before validation and checkpointing makes
    every rank hold the same model, and uses the statistics of all the data.
    """
    if not active():
        return
    world = dist.get_world_size()
    for buf in unwrap(model).buffers():
        if buf.is_floating_point():
            dist.all_reduce(buf, op=dist.ReduceOp.SUM)
            buf.div_(world)


def first_occurrences(ids_per_rank: Sequence[Sequence[str]], rank: int) -> list[bool]:
    """For this rank's ids, whether each is the first sight of that id across ranks (rank order).

    Distributed samplers pad the last round with repeated samples so every rank
    gets the same count; validation must count each sample once.
    """
    seen: set[str] = set()
    for r, ids in enumerate(ids_per_rank):
        keep = []
        for sid in ids:
            keep.append(sid not in seen)
            seen.add(sid)
        if r == rank:
            return keep
    raise IndexError(f"rank {rank} not in {len(ids_per_rank)} ranks")

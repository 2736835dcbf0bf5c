"""The one place that decides where tensors live: CUDA when present, else the CPU.

On a machine with several GPUs, Snakemake starts concurrent jobs without telling them which GPU
to use (it does not set ``CUDA_VISIBLE_DEVICES``). :func:`select_device` therefore leases a GPU:
each job takes an exclusive lock file for one device index and keeps it for its lifetime, so two
concurrent jobs never share a card. Where a scheduler has already chosen (SLURM sets
``CUDA_VISIBLE_DEVICES``), that choice is respected.

Precision is decided here too, per purpose rather than per process: training and unlearning allow
TF32 and bfloat16 autocast on CUDA (:func:`allow_tf32`, :func:`autocast`); the evaluation's forward
pass runs inside :func:`evaluation_precision`, which makes the config's ``evaluation.precision`` the
only thing that decides how logits, features and Gram matrices are computed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch

_LEASE_HANDLE = None  # kept open for the life of the process: closing it would release the lease


def _lease_dir() -> Path:
    path = Path(
        os.environ.get("UC_GPU_LEASE_DIR", Path(tempfile.gettempdir()) / "unlearning-comparator-gpu-leases")
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def lease_gpu(count: int) -> int | None:
    """Lock one of ``count`` GPUs for this process; return its index, or None if all are taken."""
    global _LEASE_HANDLE
    for index in range(count):
        handle = open(_lease_dir() / f"gpu{index}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        handle.write(str(os.getpid()))
        handle.flush()
        _LEASE_HANDLE = handle
        return index
    return None


def select_device(prefer: str = "auto") -> torch.device:
    """Return the device for this job: ``prefer`` is 'auto', 'cpu' or 'cuda'."""
    if prefer == "cpu" or not torch.cuda.is_available():
        if prefer == "cuda":
            raise RuntimeError("the config asks for device 'cuda' but PyTorch sees no CUDA device")
        return torch.device("cpu")
    count = torch.cuda.device_count()
    if count > 1 and "CUDA_VISIBLE_DEVICES" not in os.environ:
        index = lease_gpu(count)
        if index is None:  # more jobs than GPUs (Snakemake ran with more --resources gpu than exist)
            index = os.getpid() % count
        torch.cuda.set_device(index)
        device = torch.device("cuda", index)
    else:
        device = torch.device("cuda", torch.cuda.current_device())
    torch.backends.cudnn.benchmark = False  # deterministic algorithm choice: same config, same numbers
    return device


def describe(device: torch.device) -> str:
    """A human-readable name recorded beside every RTE."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return (
        f"cpu ({platform.machine()}, {torch.get_num_threads()} "
        f"thread{'s' if torch.get_num_threads() != 1 else ''})"
    )


def set_threads(threads: int) -> None:
    """Match PyTorch's intra-op threads to the cores Snakemake gave this job."""
    threads = max(1, int(threads))
    torch.set_num_threads(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))


EVALUATION_PRECISIONS = ("float32", "bf16")  # the schema's evaluation.precision; float32 is the default


def tf32_flags() -> tuple[bool, bool]:
    """(CUDA matmuls, cuDNN convolutions) may use TF32 (a 10-bit mantissa) for float32 inputs."""
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32


def set_tf32(matmul: bool, convolution: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = matmul
    torch.backends.cudnn.allow_tf32 = convolution


@contextlib.contextmanager
def allow_tf32(enabled: bool = True) -> Iterator[None]:
    """TF32 for CUDA float32 matmuls and convolutions inside the block (training's speed trade);
    restored after."""
    before = tf32_flags()
    set_tf32(enabled, enabled)
    try:
        yield
    finally:
        set_tf32(*before)


@contextlib.contextmanager
def evaluation_precision(device: torch.device, precision: str = "float32") -> Iterator[None]:
    """The evaluation's forward pass: no autograd, no TF32, and autocast only if ``precision`` asks for it.

    ``float32``: true IEEE single precision on every device (TF32 off for matmuls and cuDNN
    convolutions, autocast off even inside an enclosing autocast block). ``bf16``: bfloat16 autocast
    on CUDA and on the CPU alike. Every flag it changes is restored on exit.
    """
    if precision not in EVALUATION_PRECISIONS:
        raise ValueError(f"evaluation precision {precision!r}: use one of {', '.join(EVALUATION_PRECISIONS)}")
    bf16 = precision == "bf16"
    with (
        allow_tf32(False),
        torch.inference_mode(),
        torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16),
    ):
        yield


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bfloat16 autocast for training on CUDA (safe: no loss scaling needed); a no-op on the CPU."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last is faster for convolutions on both CUDA and (oneDNN) CPU back ends."""
    return torch.channels_last


@contextlib.contextmanager
def synchronized(device: torch.device) -> Iterator[None]:
    """Make wall-clock timings honest on CUDA, where kernels run asynchronously."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    yield
    if device.type == "cuda":
        torch.cuda.synchronize(device)

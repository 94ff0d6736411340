"""Median timers and the memory bandwidth they are compared with."""
import statistics
import time

import torch


def wall_times(fn, repeats, warmup):
    """Wall times of ``repeats`` calls of ``fn()`` in seconds, after
    ``warmup`` untimed calls (for CPU work: nothing is synchronised)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_ms(fn, repeats, warmup):
    """Median wall time of ``fn()`` in milliseconds after ``warmup`` runs
    (for CPU work: nothing is synchronised)."""
    return statistics.median(wall_times(fn, repeats, warmup)) * 1e3


def cuda_median_ms(fn, repeats, warmup):
    """Median CUDA-event time of ``fn()`` in milliseconds after warm-up."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def device_median_ms(fn, device, repeats, warmup):
    """:func:`cuda_median_ms` on a CUDA device, else :func:`median_ms`."""
    if torch.device(device).type == 'cuda':
        return cuda_median_ms(fn, repeats, warmup)
    return median_ms(fn, repeats, warmup)


def peak_bandwidth_gbs(device):
    """Nominal peak memory bandwidth of a CUDA device in GB/s (double data
    rate x bus width)."""
    props = torch.cuda.get_device_properties(device)
    return 2 * props.memory_clock_rate * 1e3 * props.memory_bus_width / 8 / 1e9


def copy_bandwidth_gbs(device, megabytes=512, repeats=10, warmup=3):
    """Device-to-device copy bandwidth measured now, in GB/s.

    A ``megabytes`` float32 buffer is copied into another; each copy reads
    and writes it, so 2 x its size moves per copy.

    Args:
        device (str | torch.device): Where to copy.
        megabytes (float): Buffer size. Defaults to 512.
        repeats (int): Timed copies (median). Defaults to 10.
        warmup (int): Untimed copies first. Defaults to 3.

    Returns:
        float: GB/s (1e9 bytes).
    """
    numel = int(megabytes * 1e6) // 4
    source = torch.empty(numel, device=device)
    target = torch.empty_like(source)
    source.fill_(1.0)
    ms = device_median_ms(lambda: target.copy_(source), device, repeats,
                          warmup)
    return 2 * 4 * numel / ms / 1e6

"""Peak memory and time of a backbone training step with and without
activation checkpointing (``GroupMamba(with_cp=...)``).

Used by ``tools/benchmark_with_cp.py``. The step is the dense-prediction
backbone of the detection configs (all four stages returned with their out
norms, drop path 0.2, the stem's BatchNorms in ``norm_eval``) in training
mode: forward on a (B, 3, H, W) batch, a scalar loss over the four maps,
backward. The optimizer step costs the same with or without checkpointing
and is left out.

Memory, per device:

* CPU: the peak resident set size (``ru_maxrss``) of a fresh process that
  runs only that setting (:func:`measure_in_fresh_process`): after the
  model and the batch are made (``before``) and after all the steps, warm-up
  included (``peak``);
  their difference is what the training steps added (activations, gradients,
  allocator slack).
* CUDA: ``torch.cuda.max_memory_allocated`` over all the steps, and
  ``memory_allocated`` before them.
"""
import multiprocessing
import platform
import resource
import statistics
import time

import torch

from ..models import GroupMamba
from .machine import cpu_name

#: The backbone settings of configs/maskrcnn_groupmamba_t_1x_coco.py.
DENSE_BACKBONE = dict(out_indices=(0, 1, 2, 3), out_norms=True,
                      drop_path_rate=0.2, norm_eval=True)


def _peak_rss_bytes():
    # Linux reports ru_maxrss in KiB (macOS in bytes).
    scale = 1 if platform.system() == 'Darwin' else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def measure(arch='tiny', with_cp=False, batch=2, height=800, width=1216,
            steps=3, warmup=1, device='cpu', seed=0):
    """Time and memory of training steps of the dense backbone.

    Run it in a process of its own on a CPU (:func:`measure_in_fresh_process`):
    the peak RSS of a process never goes down.

    Args:
        arch (str): 'tiny', 'small' or 'base'. Defaults to 'tiny'.
        with_cp (bool): Activation checkpointing. Defaults to False.
        batch (int): Images B. Defaults to 2.
        height, width (int): Image size H, W. Defaults to 800, 1216.
        steps (int): Timed steps (median). Defaults to 3.
        warmup (int): Untimed steps first. Defaults to 1.
        device (str): 'cpu' or a CUDA device. Defaults to 'cpu'.
        seed (int): Seed of the weights and the batch. Defaults to 0.

    Returns:
        dict: ``with_cp``, ``median_s`` and ``times_s`` (per step),
        ``before_bytes`` and ``peak_bytes`` (see the module docstring),
        ``memory`` ('peak RSS' or 'max_memory_allocated'), ``loss`` (of the
        last step: the same with and without checkpointing).
    """
    if steps < 1 or warmup < 0:
        raise ValueError(f'need steps >= 1 and warmup >= 0, got {steps}, '
                         f'{warmup}')
    torch.manual_seed(seed)
    model = GroupMamba(arch, with_cp=with_cp, **DENSE_BACKBONE).to(device)
    model.train()
    images = torch.randn(batch, 3, height, width, device=device)
    cuda = torch.device(device).type == 'cuda'

    def step():
        # The same drop-path masks at every step and in both settings.
        torch.manual_seed(seed)
        maps = model(images)
        loss = sum(m.float().square().mean() for m in maps)
        loss.backward()
        model.zero_grad(set_to_none=True)
        return loss.item()

    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    else:
        before = _peak_rss_bytes()
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = step()  # .item() waits for the device
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated(device) if cuda else
            _peak_rss_bytes())
    return dict(with_cp=with_cp, median_s=statistics.median(times),
                times_s=times, before_bytes=before, peak_bytes=peak,
                memory='max_memory_allocated' if cuda else 'peak RSS',
                loss=loss)


def _measure_with_threads(threads, kwargs):
    if threads:
        torch.set_num_threads(threads)
    return measure(**kwargs), torch.get_num_threads()


def measure_in_fresh_process(threads=None, **kwargs):
    """:func:`measure` in a new (spawned) Python process.

    Args:
        threads (int | None): torch's CPU threads there; None for torch's
            own choice. Defaults to None.
        **kwargs: :func:`measure`'s arguments.

    Returns:
        tuple[dict, int]: :func:`measure`'s result and the threads used.
    """
    with multiprocessing.get_context('spawn').Pool(1) as pool:
        return pool.apply(_measure_with_threads, (threads, kwargs))


def compare(arch='tiny', batch=2, height=800, width=1216, steps=3, warmup=1,
            device='cpu', threads=None):
    """Both settings, each in a fresh process on a CPU.

    Returns:
        tuple[list[dict], int]: the rows (with_cp False, then True) and the
        CPU threads.
    """
    kwargs = dict(arch=arch, batch=batch, height=height, width=width,
                  steps=steps, warmup=warmup, device=device)
    rows = []
    for with_cp in (False, True):
        if torch.device(device).type == 'cuda':
            if threads:
                torch.set_num_threads(threads)
            row, used = measure(with_cp=with_cp, **kwargs), \
                torch.get_num_threads()
        else:
            row, used = measure_in_fresh_process(threads, with_cp=with_cp,
                                                 **kwargs)
        rows.append(row)
    return rows, used


def format_table(rows, arch, batch, height, width, device, threads):
    """The rows as a markdown table under a header naming the setting, the
    device (the CPU by /proc/cpuinfo, or the GPU), threads and torch."""
    cuda = torch.device(device).type == 'cuda'
    where = (torch.cuda.get_device_name(device) if cuda else cpu_name())
    first = rows[0]
    lines = [
        f'GroupMamba-{arch[0].upper()} dense backbone training step '
        f'(forward + backward), batch {batch} at {height}x{width}; {where}; '
        f'{threads} threads; torch {torch.__version__}; memory: '
        f'{first["memory"]}', '',
        '| with_cp | median s/step | steps s | memory before steps GiB | '
        'peak GiB | added by the steps GiB | loss |',
        '|---|---|---|---|---|---|---|'
    ]
    gib = 2**30
    for row in rows:
        steps = ' '.join(f'{t:.2f}' for t in row['times_s'])
        lines.append(
            f'| {row["with_cp"]} | {row["median_s"]:.2f} | {steps} | '
            f'{row["before_bytes"] / gib:.2f} | {row["peak_bytes"] / gib:.2f}'
            f' | {(row["peak_bytes"] - row["before_bytes"]) / gib:.2f} | '
            f'{row["loss"]:.6f} |')
    if len(rows) == 2:
        off, on = rows
        added = [r['peak_bytes'] - r['before_bytes'] for r in rows]
        lines += ['', f'with_cp: {on["median_s"] / off["median_s"]:.2f}x the '
                  f'time; memory added by the steps '
                  f'{added[1] / max(added[0], 1):.2f}x, peak '
                  f'{on["peak_bytes"] / off["peak_bytes"]:.2f}x']
    return '\n'.join(lines)

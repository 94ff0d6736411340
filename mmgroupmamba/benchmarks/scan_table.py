"""The selective-scan speed tables that ``tools/benchmark_scan.py`` prints.

CPU: every CPU backend on GroupMamba-T's scan shapes against the reference
and a copy of the bytes the scan must move (:func:`cpu_section`). GPU: every
GPU backend's achieved bandwidth against the device's peak
(:func:`gpu_section`). Shapes and inputs: :mod:`.scan`; timers:
:mod:`.timing`.
"""
import torch

from mmgroupmamba.ops import available_backends
from .scan import (GRIDS, STAGES, copy_step, directional_inputs,
                   directional_step, make_inputs, scan_bytes, scan_step)
from .timing import cuda_median_ms, median_ms, peak_bandwidth_gbs


def reference_repeats(length, repeats):
    """The reference takes ~l small steps: fewer repeats for long l."""
    return min(repeats, 3) if length >= 1000 else repeats


#: CPU backends of the table, the reference first (the speed-up's base).
CPU_BACKENDS = ('reference', 'cpu', 'cpu_compiled')


def cpu_backends():
    """The CPU backends that can run here; prints why any cannot."""
    status = available_backends('cpu')
    for name in CPU_BACKENDS:
        if not status[name].available:
            print(f'- {name}: not run ({status[name].reason})')
    return [name for name in CPU_BACKENDS if status[name].available]


def step(batch, channels, length, grid, backend, backward, flat):
    """The timed closure: the flat scan, or the layer's directional call."""
    if flat:
        return scan_step(make_inputs(batch, channels, length), backend,
                         backward)
    leaves, views = directional_inputs(batch, channels, *grid,
                                       torch.device('cpu'))
    return directional_step(leaves, views, *grid, backend, backward)


def settle_allocator(batch, backends, flat):
    """Run the largest shape once, forward and backward, on every backend.

    glibc's malloc raises its mmap threshold only after freeing a block of
    that size; until then every multi-MB buffer is a fresh mmap whose pages
    fault on first touch, which doubled the b = 8, l = 3136 times when that
    row ran after the small ones. A training loop is in the settled state.
    """
    channels, length = STAGES[0]
    for backend in backends:
        step(batch, channels, length, GRIDS[0], backend, True, flat)()


def bench_rows(batch, stage, backends, repeats, flat):
    """Time one stage shape on every backend; returns the table rows."""
    (channels, length), grid = STAGES[stage], GRIDS[stage]
    copy = median_ms(copy_step(make_inputs(batch, channels, length)),
                     repeats, warmup=3)
    times = {}
    for backend in backends:
        for backward in (False, True):
            slow = backend == 'reference'
            times[backend, backward] = median_ms(
                step(batch, channels, length, grid, backend, backward, flat),
                reference_repeats(length, repeats) if slow else repeats,
                warmup=1 if slow else 3)
    rows = []
    for backend in backends:
        cells = [f'{batch}', f'{channels}', f'{length}', backend,
                 f'{copy:.3f}']
        for backward in (False, True):
            ms = times[backend, backward]
            cells += [f'{ms:.3f}', f'{times["reference", backward] / ms:.1f}x',
                      f'{ms / copy:.1f}x']
        rows.append(cells)
    return rows


GPU_BACKENDS = ('reference', 'cpu', 'triton', 'cuda')


def gpu_section(batch, repeats):
    """Time every available backend on the GPU; print a markdown table.

    Args:
        batch (int): Batch size.
        repeats (int): Timed runs per figure (the reference: 3).
    """
    device = torch.device('cuda')
    peak = peak_bandwidth_gbs(device)
    status = available_backends(device)
    backends = [name for name in GPU_BACKENDS if status[name].available]
    skipped = {name: status[name].reason for name in GPU_BACKENDS
               if not status[name].available}
    print(f'\nGPU: {torch.cuda.get_device_name(device)}, peak memory '
          f'bandwidth {peak:.0f} GB/s; batch {batch}, float32, '
          f'directional_scan_fn as the model calls it; median ms of '
          f'{repeats} (reference: 3) after warm-up; GB/s = bytes the scan '
          'must move / time.')
    for name, reason in skipped.items():
        print(f'- {name}: not run ({reason})')
    header = ['C', 'H x W', 'backend', 'fwd ms', 'fwd GB/s', 'fwd % peak',
              'f+b ms', 'f+b GB/s', 'f+b % peak']
    print('\n| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for (channels, length), (height, width) in zip(STAGES, GRIDS):
        leaves, views = directional_inputs(batch, channels, height, width,
                                           device)
        for backend in backends:
            reps = 3 if backend == 'reference' else repeats
            cells = [f'{channels}', f'{height} x {width}', backend]
            for backward in (False, True):
                ms = cuda_median_ms(
                    directional_step(leaves, views, height, width, backend,
                                     backward), reps, warmup=2)
                gbs = scan_bytes(batch, channels, length, backward) / ms / 1e6
                cells += [f'{ms:.3f}', f'{gbs:.0f}', f'{gbs / peak:.0%}']
            print('| ' + ' | '.join(cells) + ' |', flush=True)


def cpu_section(batches, stages, repeats, flat):
    """Print the CPU table: every CPU backend against the reference and the
    copy floor.

    Args:
        batches (list[int]): Batch sizes, one block of rows each.
        stages (list[int]): GroupMamba-T stages (0-3) whose shapes to time.
        repeats (int): Timed runs per figure (the reference: 3 at l >= 1000).
        flat (bool): Time the flat ``selective_scan_fn`` instead of the
            layer's ``directional_scan_fn``.
    """
    call = ('selective_scan_fn (flat)' if flat else
            "directional_scan_fn on the model's channel-major views")
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'float32, {call}; median ms of {repeats} repeats '
          '(reference: 3 at l >= 1000) after warm-up. fwd: forward under '
          'no_grad; f+b: forward + backward, grads for all 7 inputs; copy: '
          'clone of u, delta, B, C and an out-sized tensor; x ref: speed-up '
          'over the reference; / copy: time over the copy. Allocator settled '
          'first.\n')
    backends = cpu_backends()
    if 'reference' not in backends:
        raise RuntimeError('the reference backend must run: it is the base')
    settle_allocator(max(batches), backends, flat)
    header = ['b', 'C', 'l', 'backend', 'copy', 'fwd', 'x ref fwd',
              '/ copy fwd', 'f+b', 'x ref f+b', '/ copy f+b']
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for batch in batches:
        for stage in stages:
            for cells in bench_rows(batch, stage, backends, repeats,
                                    flat):
                print('| ' + ' | '.join(cells) + ' |', flush=True)

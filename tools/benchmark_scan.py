"""Time the selective-scan backends on GroupMamba-T's scan shapes at 224 px.

The model makes one scan call per layer with its four groups together
(shapes and inputs: :mod:`mmgroupmamba.benchmarks.scan`). Prints a markdown
table, one row per shape and CPU backend (reference, cpu, and cpu_compiled
where it builds): median times (after warm-up) of the layer's call
(``directional_scan_fn`` on the model's channel-major views; ``--flat``: the
flat (b, d, l) ``selective_scan_fn``), forward and forward + backward
(gradients for every input), the speed-up over the reference, and the ratio
to a plain copy of the bytes the scan must read and write (u, delta, B, C
in, out), the memory-bound floor.

With a CUDA device (or ``--gpu-only``), a GPU section follows: the layer's
four-direction call (``directional_scan_fn``, inputs laid out as the model
passes them) at batch 128 for the reference, cpu, triton and, if installed,
cuda (mamba-ssm) backends, forward and forward + backward, with the achieved
GB/s of the bytes the scan must move against the device's peak bandwidth.

Usage::

    python tools/benchmark_scan.py --batch 1 8 --repeats 20 --threads 2
    python tools/benchmark_scan.py --batch 8 --stages 0 --threads 2
    python tools/benchmark_scan.py --gpu-only --gpu-batch 128
"""
import argparse

import torch

from mmgroupmamba.benchmarks.scan import (GRIDS, STAGES, copy_step,
                                          directional_inputs,
                                          directional_step, make_inputs,
                                          scan_bytes, scan_step)
from mmgroupmamba.benchmarks.timing import (cuda_median_ms, median_ms,
                                            peak_bandwidth_gbs)
from mmgroupmamba.ops import available_backends


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
    """Time every available backend on the GPU; print a markdown table."""
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


def cpu_section(args):
    """The CPU table: every CPU backend against the reference and the
    copy floor."""
    call = ('selective_scan_fn (flat)' if args.flat else
            "directional_scan_fn on the model's channel-major views")
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'float32, {call}; median ms of {args.repeats} repeats '
          '(reference: 3 at l >= 1000) after warm-up. fwd: forward under '
          'no_grad; f+b: forward + backward, grads for all 7 inputs; copy: '
          'clone of u, delta, B, C and an out-sized tensor; x ref: speed-up '
          'over the reference; / copy: time over the copy. Allocator settled '
          'first.\n')
    backends = cpu_backends()
    if 'reference' not in backends:
        raise RuntimeError('the reference backend must run: it is the base')
    settle_allocator(max(args.batch), backends, args.flat)
    header = ['b', 'C', 'l', 'backend', 'copy', 'fwd', 'x ref fwd',
              '/ copy fwd', 'f+b', 'x ref f+b', '/ copy f+b']
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for batch in args.batch:
        for stage in args.stages:
            for cells in bench_rows(batch, stage, backends, args.repeats,
                                    args.flat):
                print('| ' + ' | '.join(cells) + ' |', flush=True)


def main():
    """Parse the options, run every shape, print the markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--stages', type=int, nargs='+',
                        default=list(range(len(STAGES))),
                        help='GroupMamba-T stages to time, 0-3 (default: '
                        'all)')
    parser.add_argument('--flat', action='store_true',
                        help='time the flat selective_scan_fn instead of '
                        "the layer's directional_scan_fn")
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch default)')
    parser.add_argument('--gpu-batch', type=int, default=128,
                        help='batch of the GPU section (default: 128)')
    parser.add_argument('--gpu-only', action='store_true',
                        help='skip the CPU table; fails without CUDA')
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.gpu_only and not torch.cuda.is_available():
        parser.error('--gpu-only needs a CUDA device; none is visible')
    if not args.gpu_only:
        cpu_section(args)
    if torch.cuda.is_available():
        gpu_section(args.gpu_batch, args.repeats)
    else:
        print('\nNo CUDA device: GPU section skipped.')


if __name__ == '__main__':
    main()

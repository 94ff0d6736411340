"""Time the selective-scan backends on GroupMamba-T's scan shapes at 224 px.

The model makes one scan call per layer with its four groups together
(shapes and inputs: :mod:`mmgroupmamba.benchmarks.scan`). Prints a markdown
table: median times (after warm-up) of the reference and the cpu backend, forward and forward + backward (gradients
for every input), and of a plain copy of the bytes the scan must read and
write (u, delta, B, C in, out), as the memory-bound floor.

With a CUDA device (or ``--gpu-only``), a GPU section follows: the layer's
four-direction call (``directional_scan_fn``, inputs laid out as the model
passes them) at batch 128 for the reference, cpu, triton and, if installed,
cuda (mamba-ssm) backends, forward and forward + backward, with the achieved
GB/s of the bytes the scan must move against the device's peak bandwidth.

Usage::

    python tools/benchmark_scan.py --batch 1 8 --repeats 20 --threads 2
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


def settle_allocator(batch):
    """Run the largest shape once, forward and backward, on both backends.

    glibc's malloc raises its mmap threshold only after freeing a block of
    that size; until then every multi-MB buffer is a fresh mmap whose pages
    fault on first touch, which doubled the b = 8, l = 3136 times when that
    row ran after the small ones. A training loop is in the settled state.
    """
    channels, length = STAGES[0]
    inputs = make_inputs(batch, channels, length)
    for backend in ('cpu', 'reference'):
        scan_step(inputs, backend, backward=True)()


def bench_row(batch, channels, length, repeats):
    """Time one stage shape; returns the table cells."""
    inputs = make_inputs(batch, channels, length)
    copy = median_ms(copy_step(inputs), repeats, warmup=3)
    cells = [f'{batch}', f'{channels}', f'{length}', f'{copy:.3f}']
    for backward in (False, True):
        ref_reps = reference_repeats(length, repeats)
        ref = median_ms(scan_step(inputs, 'reference', backward), ref_reps,
                        warmup=1)
        fast = median_ms(scan_step(inputs, 'cpu', backward), repeats,
                         warmup=3)
        cells += [f'{ref:.2f}', f'{fast:.3f}', f'{ref / fast:.1f}x',
                  f'{fast / copy:.1f}x']
    return cells


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
    """The CPU table: reference vs cpu backend and the copy floor."""
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'float32; median ms of {args.repeats} repeats (reference: 3 at '
          'l >= 1000) after warm-up. fwd: forward under no_grad; f+b: '
          'forward + backward, grads for all 7 inputs; copy: clone of u, '
          'delta, B, C and an out-sized tensor. Allocator settled first.\n')
    settle_allocator(max(args.batch))
    header = ['b', 'C', 'l', 'copy', 'ref fwd', 'cpu fwd', 'speed-up fwd',
              'cpu/copy fwd', 'ref f+b', 'cpu f+b', 'speed-up f+b',
              'cpu/copy f+b']
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for batch in args.batch:
        for channels, length in STAGES:
            cells = bench_row(batch, channels, length, args.repeats)
            print('| ' + ' | '.join(cells) + ' |', flush=True)


def main():
    """Parse the options, run every shape, print the markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--repeats', type=int, default=20)
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

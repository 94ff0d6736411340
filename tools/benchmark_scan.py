"""Time the selective-scan backends on GroupMamba-T's scan shapes at 224 px.

The model makes one scan call per layer with its four groups together
(shapes and inputs: :mod:`mmgroupmamba.benchmarks.scan`; the tables:
:mod:`mmgroupmamba.benchmarks.scan_table`). Prints a markdown
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


def main():
    """Parse the options, run every shape, print the markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, nargs='+', default=[1, 8],
                        help='batch sizes of the CPU table (default: 1 8)')
    parser.add_argument('--repeats', type=int, default=20,
                        help='timed runs per figure (default: 20)')
    parser.add_argument('--stages', type=int, nargs='+',
                        default=[0, 1, 2, 3],
                        help='GroupMamba-T stages to time, 0-3 (default: '
                        'all)')
    parser.add_argument('--flat', action='store_true',
                        help='time the flat selective_scan_fn instead of '
                        "the layer's directional_scan_fn (default: off)")
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch default)')
    parser.add_argument('--gpu-batch', type=int, default=128,
                        help='batch of the GPU section (default: 128)')
    parser.add_argument('--gpu-only', action='store_true',
                        help='skip the CPU table; fails without CUDA '
                        '(default: off)')
    args = parser.parse_args()
    import torch

    from mmgroupmamba.benchmarks.scan_table import cpu_section, gpu_section
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.gpu_only and not torch.cuda.is_available():
        parser.error('--gpu-only needs a CUDA device; none is visible')
    if not args.gpu_only:
        cpu_section(args.batch, args.stages, args.repeats, args.flat)
    if torch.cuda.is_available():
        gpu_section(args.gpu_batch, args.repeats)
    else:
        print('\nNo CUDA device: GPU section skipped.')


if __name__ == '__main__':
    main()

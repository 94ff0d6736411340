"""Where a benchmark ran: the line every table's header starts with.

CPU speed ratios move with the CPU generation (which of MKL's and oneDNN's
kernels run, AVX-512 or not), the thread count, the allocator and torch; a
figure is only comparable with another taken on the same line.
"""
import os
import platform

import torch

#: glibc malloc settings that change CPU speed (see :func:`allocator`).
ALLOCATOR_VARIABLES = ('MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_',
                       'LD_PRELOAD')


def _cpuinfo_fields(names):
    """The first value of each ``/proc/cpuinfo`` field in ``names``."""
    fields = {}
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                key = key.strip()
                if key in names and key not in fields:
                    fields[key] = value.strip()
    except OSError:  # no /proc (macOS, Windows): platform's name only
        pass
    return fields


def cpu_name():
    """The CPU: model name, vendor, family and model numbers, e.g.
    'Intel(R) Xeon(R) Processor (GenuineIntel family 6 model 167)'
    (``platform.processor()`` where there is no /proc)."""
    fields = _cpuinfo_fields(('model name', 'vendor_id', 'cpu family',
                              'model'))
    if not fields:
        return platform.processor() or 'unknown CPU'
    return (f"{fields.get('model name', '?')} ({fields.get('vendor_id', '?')}"
            f" family {fields.get('cpu family', '?')} model "
            f"{fields.get('model', '?')})")


def allocator():
    """How this process allocates memory: 'glibc malloc defaults' or the
    variables that are set.

    A batch-8 activation of a 224 px model's first stage is tens of MB:
    above glibc's largest mmap threshold (32 MB), so by default every such
    buffer is a fresh mapping whose pages fault in on first touch at every
    step. Raising the thresholds (or preloading jemalloc / tcmalloc) keeps
    them in the heap and changes the times of every model.
    """
    settings = [f'{name}={os.environ[name]}' for name in ALLOCATOR_VARIABLES
                if os.environ.get(name)]
    return ', '.join(settings) or 'glibc malloc defaults'


def describe():
    """'CPU ..., torch's ISA kernels, N threads, torch X, allocator' (str)."""
    capability = torch.backends.cpu.get_cpu_capability() if hasattr(
        torch.backends, 'cpu') else 'unknown'
    return (f'{cpu_name()}, {capability} kernels, '
            f'{torch.get_num_threads()} threads, torch {torch.__version__}, '
            f'{allocator()}')

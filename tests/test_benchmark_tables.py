"""The benchmark tables say where they ran, and the dense benchmark runs.

Speed itself is never asserted here (docs/benchmarks.md): these check
what the tables print and that every model of the dense benchmark builds
and predicts.
"""
import re

import pytest
import torch
from conftest import one_thread_in_scope

import mmgroupmamba  # noqa: F401
from mmgroupmamba.benchmarks import machine
from mmgroupmamba.benchmarks.models import format_table as model_table


def test_machine_line_names_cpu_kernels_threads_torch_allocator(monkeypatch):
    monkeypatch.delenv('MALLOC_MMAP_THRESHOLD_', raising=False)
    monkeypatch.delenv('MALLOC_TRIM_THRESHOLD_', raising=False)
    monkeypatch.delenv('LD_PRELOAD', raising=False)
    line = machine.describe()
    assert re.search(r'\(\S+ family \d+ model \d+\)', line), line
    assert f'{torch.get_num_threads()} threads' in line
    assert f'torch {torch.__version__}' in line
    assert line.endswith('glibc malloc defaults')
    assert torch.backends.cpu.get_cpu_capability() in line
    monkeypatch.setenv('MALLOC_MMAP_THRESHOLD_', '4294967296')
    assert machine.describe().endswith('MALLOC_MMAP_THRESHOLD_=4294967296')


def test_model_table_header_is_the_machine_line():
    table = model_table([('a', 0.1, 0.09, 0.11, 80.0),
                         ('b', 0.2, 0.19, 0.21, 40.0)], 8, 224, 2, 10,
                        train=False, compiled=False)
    lines = table.splitlines()
    assert lines[0] == machine.describe()
    assert lines[-1] == '| b | 200.0 | 190.0-210.0 | 40.0 | 0.50x |'


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_dense_benchmark_predicts_with_every_model(task, tmp_path):
    """Ours and the peers' configs build without any download and predict
    (a small image, one run each)."""
    pytest.importorskip('mmdet' if task == 'det' else 'mmseg')
    from mmgroupmamba.benchmarks.dense import (DETECTORS, SEGMENTORS,
                                               format_table, measure)
    names = list(DETECTORS if task == 'det' else SEGMENTORS)
    with one_thread_in_scope('mmdet' if task == 'det' else 'mmseg'):
        rows = measure(names, 96, 128, repeats=1, warmup=0,
                       work_dir=tmp_path)
    assert [row[0] for row in rows] == names
    assert all(row[1] > 0 for row in rows)
    table = format_table(rows, 96, 128, 1, 0).splitlines()
    assert table[0] == machine.describe()
    assert table[-3].startswith(f'| {names[0]} |') and \
        table[-3].endswith('| 1.00x |')

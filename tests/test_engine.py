"""Checkpoint plumbing for mmengine runners: weights-only types, atomic writes.

The end-to-end use (a Runner's checkpoint read back by torch's weights-only
load, resumed, given to the inferencers) is tested with the real runners in
test_detection.py, test_distillation.py and test_resume.py.
"""
import io
import signal
import subprocess
import sys
import time
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer

from mmgroupmamba.engine import (AtomicLocalBackend, restore_history_buffers,
                                 to_weights_only_types)


def weights_only_round_trip(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def message_hub_checkpoint():
    losses = HistoryBuffer(max_length=3)
    for value in (4.0, np.float64(3.5), 3.0, 2.5):  # one falls off the end
        losses.update(value, count=2)
    return {
        'meta': {'seed': np.int64(7), 'dataset_meta': {'classes': ('a', 'b')}},
        'state_dict': OrderedDict(w=torch.nn.Parameter(torch.arange(3.))),
        'message_hub': {
            'log_scalars': OrderedDict({'train/loss': losses}),
            'runtime_info': {'eta': np.float64(12.5), 'hist': np.arange(3),
                             'flag': np.bool_(True), 'iter': 4},
            'resumed_keys': {'train/loss': True, 'eta': True},
        },
    }


def test_numpy_and_history_buffers_become_plain():
    checkpoint = message_hub_checkpoint()
    # As mmengine writes it, the weights-only load refuses it.
    with pytest.raises(Exception, match='Unsupported global'):
        weights_only_round_trip(checkpoint)

    loaded = weights_only_round_trip(to_weights_only_types(checkpoint))
    info = loaded['message_hub']['runtime_info']
    assert info == {'eta': 12.5, 'hist': [0, 1, 2], 'flag': True, 'iter': 4}
    assert type(info['eta']) is float and type(info['flag']) is bool
    assert loaded['meta'] == {'seed': 7, 'dataset_meta': {'classes':
                                                          ('a', 'b')}}
    assert type(loaded['state_dict']) is OrderedDict
    assert torch.equal(loaded['state_dict']['w'], torch.arange(3.))
    # The source is not modified.
    assert isinstance(
        checkpoint['message_hub']['log_scalars']['train/loss'], HistoryBuffer)


def test_history_buffers_come_back_with_their_statistics():
    checkpoint = message_hub_checkpoint()
    original = checkpoint['message_hub']['log_scalars']['train/loss']
    loaded = weights_only_round_trip(to_weights_only_types(checkpoint))
    restore_history_buffers(loaded)
    restored = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer)
    assert restored.max_length == 3
    for got, expected in zip(restored.data, original.data):
        np.testing.assert_array_equal(got, expected)
    assert restored.data[0].tolist() == [3.5, 3.0, 2.5]
    assert restored.mean() == pytest.approx(9.0 / 6)  # counts of 2 each
    assert restored.current() == 2.5


def test_restore_leaves_checkpoints_without_a_message_hub_alone():
    checkpoint = {'state_dict': {'w': torch.ones(1)}}
    restore_history_buffers(checkpoint)
    assert list(checkpoint) == ['state_dict']


@pytest.mark.parametrize('bad, where', [
    ({'meta': {'cfg': object()}}, "checkpoint['meta']['cfg']"),
    ({'opt': [1, (2, lambda: 3)]}, "checkpoint['opt'][1][1]"),
    ({'x': np.float64}, "checkpoint['x']"),  # a class, not a value
])
def test_anything_else_is_refused_with_its_path(bad, where):
    with pytest.raises(TypeError, match=r'weights_only=True') as error:
        to_weights_only_types(bad)
    assert str(error.value).startswith(where + ' holds a ')


def test_atomic_backend_is_what_the_config_name_builds(tmp_path):
    backend = get_file_backend(
        str(tmp_path), backend_args=dict(backend='atomic_local'))
    assert type(backend) is AtomicLocalBackend
    target = tmp_path / 'sub' / 'iter_1.pth'
    backend.put(b'complete', str(target))
    backend.put_text('iter_1.pth', str(tmp_path / 'last_checkpoint'))
    assert target.read_bytes() == b'complete'
    assert (tmp_path / 'last_checkpoint').read_text() == 'iter_1.pth'
    assert sorted(p.name for p in tmp_path.rglob('*')) == [
        'iter_1.pth', 'last_checkpoint', 'sub']


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    backend = AtomicLocalBackend()
    target = tmp_path / 'iter_2.pth'
    backend.put(b'old and complete', str(target))
    with pytest.raises(TypeError):
        backend.put('not bytes', str(target))  # fails inside the write
    assert target.read_bytes() == b'old and complete'
    assert [p.name for p in tmp_path.iterdir()] == ['iter_2.pth']


WRITER = '''
import io, sys, torch
from mmgroupmamba.engine import AtomicLocalBackend
backend, target = AtomicLocalBackend(), sys.argv[1]
for step in range(1000):
    buffer = io.BytesIO()
    torch.save({'step': step, 'w': torch.full((8_000_000,), float(step))},
               buffer)
    backend.put(buffer.getvalue(), target)
    print(step, flush=True)
'''


@pytest.mark.parametrize('delay', [0.05, 0.3, 0.7])
def test_sigkill_while_writing_leaves_complete_files_only(tmp_path, delay):
    """A process SIGKILLed while it rewrites a 32 MB checkpoint over and over:
    the destination is absent or one whole checkpoint, never a torn one."""
    target = tmp_path / 'iter_1.pth'
    process = subprocess.Popen([sys.executable, '-c', WRITER, str(target)],
                               stdout=subprocess.PIPE, text=True)
    process.stdout.readline()  # the first write is complete
    time.sleep(delay)  # then kill at some point of a later write
    process.send_signal(signal.SIGKILL)
    process.wait()
    checkpoint = torch.load(target, weights_only=True)
    assert torch.all(checkpoint['w'] == checkpoint['step'])
    others = [p.name for p in tmp_path.iterdir() if p != target]
    # At most the hidden temporary of the interrupted write remains.
    assert len(others) <= 1 and all(
        n.startswith('.iter_1.pth.') and n.endswith('.tmp') for n in others)

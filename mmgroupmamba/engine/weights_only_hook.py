"""Checkpoints that ``torch.load(..., weights_only=True)`` can read.

mmengine 0.10.7 saves its ``MessageHub`` in every checkpoint: the logged
scalars as ``HistoryBuffer`` objects (numpy arrays inside) and runtime values
such as the ETA as numpy scalars. torch >= 2.6 loads with
``weights_only=True`` by default and refuses those objects, so resuming,
``load_from``, ``mim test --checkpoint`` and the inferencers all fail on
checkpoints the runner itself wrote. This hook rewrites the checkpoint into
plain containers, numbers and tensors just before it is saved, and turns the
logged scalars back into ``HistoryBuffer`` objects just after one is loaded,
so that resumed runs keep their smoothed logs. Config use::

    custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
"""
from collections import OrderedDict

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.registry import HOOKS

# What torch's weights-only unpickler reads back without any allow-listing.
# Exact types: numpy.float64 subclasses float, an IntEnum int, and both pickle
# as globals the unpickler refuses.
_PLAIN_SCALARS = (str, bytes, int, float, bool, complex, type(None))
_PLAIN_TORCH = (torch.Tensor, torch.Size, torch.dtype, torch.device)
_CONTAINERS = (list, tuple, set)


def _history_to_plain(buffer):
    """HistoryBuffer -> dict of lists (what its constructor takes back)."""
    log_history, count_history = buffer.data
    return dict(
        log_history=log_history.tolist(),
        count_history=count_history.tolist(),
        max_length=int(buffer.max_length))


def to_weights_only_types(obj, where='checkpoint'):
    """A copy of ``obj`` made only of types the weights-only unpickler reads.

    numpy scalars become Python numbers, numpy arrays lists,
    ``HistoryBuffer`` objects dicts of their histories; dicts (including
    ``OrderedDict``), lists, tuples and sets are rebuilt with their type;
    tensors and Python scalars are kept as they are.

    Args:
        obj: A checkpoint or any part of one.
        where (str): Path of ``obj`` in the checkpoint, for error messages.

    Returns:
        The converted copy (tensors are shared, not copied).

    Raises:
        TypeError: An object of another type, which ``torch.load(...,
            weights_only=True)`` would refuse; the message names its path.
    """
    if type(obj) in _PLAIN_SCALARS or isinstance(obj, _PLAIN_TORCH):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, HistoryBuffer):
        return _history_to_plain(obj)
    if type(obj) in (dict, OrderedDict):
        return type(obj)(
            (key, to_weights_only_types(value, f'{where}[{key!r}]'))
            for key, value in obj.items())
    if type(obj) in _CONTAINERS:
        return type(obj)(
            to_weights_only_types(value, f'{where}[{i}]')
            for i, value in enumerate(obj))
    raise TypeError(
        f'{where} holds a {type(obj).__module__}.{type(obj).__qualname__}, '
        'which torch.load(..., weights_only=True) cannot read back; store it '
        'as plain numbers, strings, containers or tensors')


def restore_history_buffers(checkpoint):
    """Turn a loaded checkpoint's plain logged scalars back into buffers.

    Only ``checkpoint['message_hub']['log_scalars']`` entries written by
    :func:`to_weights_only_types` are touched (in place); a checkpoint saved
    without the hook, or without a message hub, is left as it is.

    Args:
        checkpoint (dict): As returned by ``torch.load``.
    """
    scalars = checkpoint.get('message_hub', {}).get('log_scalars', {})
    for key, value in scalars.items():
        if isinstance(value, dict):
            scalars[key] = HistoryBuffer(
                log_history=value['log_history'],
                count_history=value['count_history'],
                max_length=value['max_length'])


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Save checkpoints in plain types; restore the message hub on load.

    Runs last before a save (after the EMA hook and others have written their
    parts) and first after a load.
    """

    priority = 'LOWEST'

    def before_save_checkpoint(self, runner, checkpoint):
        """Convert ``checkpoint`` in place to weights-only-loadable types."""
        converted = to_weights_only_types(checkpoint)
        checkpoint.clear()
        checkpoint.update(converted)

    def after_load_checkpoint(self, runner, checkpoint):
        """Rebuild the ``HistoryBuffer`` objects of the message hub."""
        restore_history_buffers(checkpoint)

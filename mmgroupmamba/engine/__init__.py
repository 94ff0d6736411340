"""Training-loop pieces for mmengine runners (hooks and file backends).

Importing this package registers ``WeightsOnlyCheckpointHook`` in mmengine's
root ``HOOKS`` registry (so mmpretrain, mmdet and mmseg configs find it) and
the ``'atomic_local'`` file backend used for checkpoint writes.
"""
from .atomic_backend import AtomicLocalBackend
from .weights_only_hook import (WeightsOnlyCheckpointHook,
                                restore_history_buffers, to_weights_only_types)

__all__ = [
    'AtomicLocalBackend', 'WeightsOnlyCheckpointHook',
    'restore_history_buffers', 'to_weights_only_types'
]

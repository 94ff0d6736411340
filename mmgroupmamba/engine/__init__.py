"""Training-loop pieces for mmengine runners (hooks and file backends).

Importing this package registers ``WeightsOnlyCheckpointHook`` in mmengine's
root ``HOOKS`` registry (so mmpretrain, mmdet and mmseg configs find it),
``GroupMambaOptimWrapperConstructor`` (the no-decay rule) in its root
``OPTIM_WRAPPER_CONSTRUCTORS`` and the ``'atomic_local'`` file backend used
for checkpoint writes.
"""
from .atomic_backend import AtomicLocalBackend
from .optim import GroupMambaOptimWrapperConstructor, no_weight_decay_names
from .weights_only_hook import (WeightsOnlyCheckpointHook,
                                restore_history_buffers, to_weights_only_types)

__all__ = [
    'AtomicLocalBackend', 'GroupMambaOptimWrapperConstructor',
    'no_weight_decay_names', 'WeightsOnlyCheckpointHook',
    'restore_history_buffers', 'to_weights_only_types'
]

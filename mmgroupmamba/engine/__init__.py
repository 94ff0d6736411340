"""Training-loop pieces for mmengine runners (runner, hooks, file backends).

Importing this package registers, in mmengine's root registries (so
mmpretrain, mmdet and mmseg configs find them by name):
``GroupMambaRunner`` (``runner_type``: the loading rules of ``load_from``
and ``resume``), ``WeightsOnlyCheckpointHook``,
``GroupMambaOptimWrapperConstructor`` (the no-decay rule) and the
``'atomic_local'`` file backend used for checkpoint writes. A config uses
each only by asking for it.
"""
from .atomic_backend import AtomicLocalBackend
from .optim import GroupMambaOptimWrapperConstructor, no_weight_decay_names
from .runner import GroupMambaRunner
from .weights_only_hook import (WeightsOnlyCheckpointHook,
                                restore_history_buffers, to_weights_only_types)

__all__ = [
    'AtomicLocalBackend', 'GroupMambaOptimWrapperConstructor', 'GroupMambaRunner',
    'no_weight_decay_names', 'WeightsOnlyCheckpointHook',
    'restore_history_buffers', 'to_weights_only_types'
]

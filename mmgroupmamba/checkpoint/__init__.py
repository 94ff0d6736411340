"""Reading GroupMamba weights, one concern per module.

* :mod:`.mapping`: the official <-> mm key mapping, one rule table read in
  both directions;
* :mod:`.reading`: reading files, always ``weights_only=True``, every
  failure named (also mmengine's reader of local files);
* :mod:`.strict`: strict coverage of a model part and of the whole model,
  installed as load-state-dict pre-hooks so mmengine's non-strict loaders
  fail loudly too;
* :mod:`.pretrained`: the backbone's ``init_cfg`` Pretrained loader;
* :mod:`.convert`: official file -> mmpretrain file (imports the models;
  import it as ``mmgroupmamba.checkpoint.convert``).

The layers import downwards only: ``models`` imports this package's lower
modules, and only ``convert`` imports ``models``. The distillation teacher's
loading lives with the distiller (``models/distiller.py``).
"""
from .errors import CheckpointError
from .mapping import RULES, is_official_layout, mm_to_official, official_to_mm
from .pretrained import load_pretrained_backbone
from .reading import load_file, read_checkpoint
from .strict import (check_state_dict, describe_arch, infer_arch,
                     install_whole_model_strictness, make_whole_model_strict,
                     register_strict_loading)

__all__ = [
    'CheckpointError', 'RULES', 'official_to_mm', 'mm_to_official',
    'is_official_layout', 'load_file', 'read_checkpoint', 'check_state_dict',
    'describe_arch', 'infer_arch', 'register_strict_loading',
    'make_whole_model_strict', 'install_whole_model_strictness',
    'load_pretrained_backbone'
]

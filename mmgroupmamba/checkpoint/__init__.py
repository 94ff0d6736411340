"""Reading GroupMamba weights, one concern per module.

* :mod:`.mapping`: the official <-> mm key mapping, one rule table read in
  both directions;
* :mod:`.reading`: reading files, always ``weights_only=True``, every
  failure named;
* :mod:`.strict`: exact coverage of our parts (a load-state-dict pre-hook on
  each, active in strict loads) and of a whole model, for our own loaders;
* :mod:`.fitting`: fine-tuning loads: what fits, and one readable account
  of what did not;
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
from .reading import load_file, read_checkpoint, rename_keys, state_dict_of
from .fitting import Fit, describe_fit, load_what_fits, match_state_dict
from .strict import (check_part, check_state_dict, check_strict_parts,
                     describe_arch, infer_arch, load_whole_model,
                     register_strict_loading)

__all__ = [
    'CheckpointError', 'RULES', 'official_to_mm', 'mm_to_official',
    'is_official_layout', 'load_file', 'read_checkpoint', 'state_dict_of',
    'rename_keys',
    'check_state_dict', 'load_whole_model',
    'describe_arch', 'infer_arch', 'register_strict_loading', 'check_part',
    'check_strict_parts', 'Fit', 'match_state_dict', 'describe_fit',
    'load_what_fits', 'load_pretrained_backbone'
]

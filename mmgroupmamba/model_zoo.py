"""Register the package's model index with mmpretrain's ModelHub.

After ``import mmgroupmamba``, ``mmpretrain.list_models('*groupmamba*')`` lists
the GroupMamba models and ``mmpretrain.get_model(name, pretrained=PATH)``
builds one by name, as for mmpretrain's own models.

The index is ``mmgroupmamba/.mim/model-index.yml`` (importing
``configs/metafile.yml``), laid out by setup.py as OpenMMLab packages do:
symlinks into the clone for an editable install, copies in a wheel. Config
paths in the metafile are relative to ``.mim/`` (``configs/...``), so the
same index serves ``mim search mmgroupmamba``.
"""
from pathlib import Path

MIM_ROOT = Path(__file__).resolve().parent / '.mim'
MODEL_INDEX = MIM_ROOT / 'model-index.yml'


def register_model_index():
    """Add the GroupMamba entries to mmpretrain's ModelHub (once)."""
    from mmpretrain.apis import ModelHub
    if not MODEL_INDEX.is_file():
        raise FileNotFoundError(
            f'{MODEL_INDEX} is missing: the package was installed without its '
            'model index. Reinstall it with pip (pip install . or pip install '
            '-e . from a clone, or the wheel), which lays out '
            'mmgroupmamba/.mim/.')
    ModelHub.register_model_index(MODEL_INDEX, config_prefix=MIM_ROOT)

"""Register configs/metafile.yml with mmpretrain's ModelHub.

After ``import mmgroupmamba``, ``mmpretrain.list_models('*groupmamba*')`` lists
the GroupMamba models and ``mmpretrain.get_model(name, pretrained=PATH)``
builds one by name, as for mmpretrain's own models. The metafile sits in the
source tree's ``configs/`` (the package is installed editable from a clone).
"""
from pathlib import Path

METAFILE = Path(__file__).resolve().parents[1] / 'configs' / 'metafile.yml'


def register_model_index():
    """Add the GroupMamba entries to mmpretrain's ModelHub (once)."""
    from mmpretrain.apis import ModelHub
    if not METAFILE.is_file():
        raise FileNotFoundError(
            f'{METAFILE} is missing: mmgroupmamba must be installed from a '
            'clone of its repository (pip install -e .), which ships configs/')
    ModelHub.register_model_index(METAFILE)

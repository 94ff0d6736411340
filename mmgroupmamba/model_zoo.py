"""Where the package's configs and model index are, and their registration
with mmpretrain's ModelHub.

After ``import mmgroupmamba``, ``mmpretrain.list_models('*groupmamba*')`` lists
the GroupMamba classifiers and ``mmpretrain.get_model(name, pretrained=PATH)``
builds one by name, as for mmpretrain's own models.

An installed package carries them under ``mmgroupmamba/.mim/`` (laid out by
setup.py as OpenMMLab packages do: symlinks into the clone for an editable
install, copies in a wheel). A source checkout used through ``PYTHONPATH``
without ``pip install`` has no ``.mim/``; its configs and ``model-index.yml``
are the clone's own, at the repository root. Config paths in the metafiles are
relative to that root (``configs/...``), so the same files serve ``mim search
mmgroupmamba``.
"""
import warnings
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _find_mim_root():
    """``.mim/`` when installed, else the clone's root, else None."""
    for root in (PACKAGE_DIR / '.mim', PACKAGE_DIR.parent):
        if (root / 'model-index.yml').is_file() and (root / 'configs').is_dir():
            return root
    return None


#: The folder holding ``configs/``, ``tools/`` and ``model-index.yml``.
MIM_ROOT = _find_mim_root() or PACKAGE_DIR / '.mim'
#: mmpretrain's ModelHub gets the classifiers only: it can build nothing else.
CLASSIFIER_METAFILE = MIM_ROOT / 'configs' / 'metafile.yml'


def register_model_index():
    """Add the GroupMamba classifiers to mmpretrain's ModelHub.

    Returns:
        bool: Whether the metafile was found and registered. A package
        installed without its ``.mim/`` folder (a broken wheel) still imports;
        a warning says how to get the by-name lookups back.
    """
    if not CLASSIFIER_METAFILE.is_file():
        warnings.warn(
            f'{CLASSIFIER_METAFILE} is missing, so mmpretrain.get_model() and '
            'list_models() do not know the GroupMamba names; configs can still '
            'be given by path. Reinstall with pip (pip install . or pip '
            'install -e . from a clone, or the wheel), which lays out '
            'mmgroupmamba/.mim/.',
            stacklevel=2)
        return False
    from mmpretrain.apis import ModelHub
    ModelHub.register_model_index(CLASSIFIER_METAFILE, config_prefix=MIM_ROOT)
    return True

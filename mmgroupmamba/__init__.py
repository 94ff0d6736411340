"""GroupMamba visual state-space backbones for OpenMMLab.

Importing this package registers the models (``GroupMamba``, the class-block
neck and, with mmpretrain installed, the dual linear head) in mmengine's root
``MODELS`` registry, so ``type='GroupMamba'`` resolves from mmpretrain, mmdet
and mmseg configs alike. Only mmengine, timm and torch are needed to import it.
Configs import it with ``custom_imports = dict(imports=['mmgroupmamba'])``.
It also registers the engine's hooks, runner and ``'atomic_local'`` file
backend (see :mod:`mmgroupmamba.engine`), the scan's FLOP handle and, with
mmpretrain installed, the classifiers' model index. Nothing else in the
process changes: no torch-wide hooks, no replaced mmengine readers.
"""
import importlib.util
import sys
from pathlib import Path


def _load_source_tree_ops():
    """Import a clone's top-level ``ops/`` as ``mmgroupmamba.ops``.

    An installed package holds ``mmgroupmamba/ops`` (setup.py puts ``ops/``
    there). A clone has it beside the package: used through ``PYTHONPATH``
    without ``pip install`` (as ``tools/dist_train.sh``-style launchers do),
    or through an editable install, whose import hook would map the name to
    the same folder.
    """
    package = Path(__file__).resolve().parent
    if (package / 'ops').is_dir():
        return
    source = package.parent / 'ops' / '__init__.py'
    if not source.is_file():
        raise ImportError(
            f'{package / "ops"} is missing and so is {source}: reinstall '
            'mmgroupmamba (pip install . from a clone, or the wheel)')
    spec = importlib.util.spec_from_file_location(
        f'{__name__}.ops', source,
        submodule_search_locations=[str(source.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    globals()['ops'] = module  # what the import system does for a submodule


_load_source_tree_ops()

from . import engine  # noqa: E402,F401  (registers the hooks and runner)
from .models import ClassBlockNeck, GroupMamba, GroupMambaLayer  # noqa: E402
from .ops import selective_scan_fn  # noqa: E402
from .version import __version__  # noqa: E402

__all__ = [
    'GroupMamba', 'GroupMambaLayer', 'ClassBlockNeck', 'selective_scan_fn',
    '__version__'
]

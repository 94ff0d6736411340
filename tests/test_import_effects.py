"""A plugin is a guest: ``import mmgroupmamba`` registers and changes nothing else.

Each check runs in a fresh interpreter, so that nothing imported by the rest
of the suite hides or causes a difference.
"""
import json
import os
import subprocess
import sys

from conftest import REPO

# The libraries the package imports (every top-level module that ``import
# mmgroupmamba`` loads but itself), printed one per line: their own
# import-time effects are theirs (on Python 3.10, importing the
# ``exceptiongroup`` backport replaces sys.excepthook, for one).
DEPENDENCIES = r'''
import sys
before = set(sys.modules)
import mmgroupmamba  # noqa: F401
print('\n'.join(sorted({m.split('.')[0] for m in set(sys.modules) - before}
                        - {'mmgroupmamba'})))
'''

# Imports those libraries and the OpenMMLab task libraries first, snapshots
# what a plugin could change process-wide, imports mmgroupmamba, snapshots
# again.
SNAPSHOT = r'''
import importlib, importlib.util, json, sys, warnings
import torch, torch.nn.modules.module as module_hooks
import mmengine.runner
from mmengine.runner import CheckpointLoader
for name in ('mmpretrain', 'mmdet', 'mmseg'):
    if importlib.util.find_spec(name):
        importlib.import_module(name + '.apis')
for name in sys.argv[1:]:
    importlib.import_module(name)

def snapshot():
    hooks = {name: len(getattr(module_hooks, name))
             for name in dir(module_hooks)
             if name.startswith('_global_') and name.endswith('hooks')}
    return dict(
        module_hooks=hooks,
        checkpoint_schemes={prefix: f'{fn.__module__}.{fn.__qualname__}'
                            for prefix, fn in CheckpointLoader._schemes.items()},
        warnings_filters=len(warnings.filters),
        threads=torch.get_num_threads(),
        default_dtype=str(torch.get_default_dtype()),
        grad_enabled=torch.is_grad_enabled(),
        deterministic=torch.are_deterministic_algorithms_enabled(),
        cudnn=[torch.backends.cudnn.benchmark,
               torch.backends.cudnn.deterministic],
        matmul_precision=torch.get_float32_matmul_precision(),
        meta_path=len(sys.meta_path),
        excepthook=repr(sys.excepthook))

before = snapshot()
import mmgroupmamba  # noqa: E402
after = snapshot()
print(json.dumps(dict(before=before, after=after,
                      loaded=[m for m in sys.modules
                              if m.split('.')[0] == 'mmgroupmamba'])))
'''

# A stock model loaded by mmengine's loader from a file that does not fit it
# (another class count, a key short): what the user sees and what loads.
STOCK_LOAD = r'''
import hashlib, importlib.util, io, sys, contextlib
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, MODELS
from mmengine.runner import load_checkpoint
if sys.argv[2] == 'import':
    import mmgroupmamba  # noqa: F401
if importlib.util.find_spec('mmdet'):
    import mmdet.models  # noqa: F401
    scope, config = 'mmdet', 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
    heads = ('roi_head.bbox_head.num_classes', 'roi_head.mask_head.num_classes')
else:  # the oldest stack has no mmdet
    import mmpretrain.models  # noqa: F401
    scope, config = 'mmpretrain', 'mmpretrain::resnet/resnet50_8xb32_in1k.py'
    heads = ('head.num_classes', )
with open(sys.argv[1] + '.py', 'w') as f:  # the stock config, unchanged
    f.write(f'_base_ = {config!r}\n')
cfg = Config.fromfile(sys.argv[1] + '.py')
cfg.model.backbone.init_cfg = None
torch.manual_seed(0)
with DefaultScope.overwrite_default_scope(scope):
    saved = MODELS.build(cfg.model).state_dict()
    del saved[next(k for k in saved if k.startswith('neck.') or
                   k.startswith('head.'))]
    torch.save(dict(state_dict=saved), sys.argv[1])
    cfg.merge_from_dict({f'model.{key}': 7 for key in heads})
    torch.manual_seed(1)
    model = MODELS.build(cfg.model)
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        load_checkpoint(model, sys.argv[1], map_location='cpu')
digest = hashlib.sha256()
for key, value in model.state_dict().items():
    digest.update(key.encode() + value.numpy().tobytes())
print(scope, digest.hexdigest())
print(log.getvalue())
'''


def run_python(code, *args):
    result = subprocess.run([sys.executable, '-c', code, *map(str, args)],
                            cwd=REPO, capture_output=True, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_import_changes_nothing_process_wide():
    dependencies = run_python(DEPENDENCIES).split()
    assert 'torch' in dependencies or 'mmengine' in dependencies
    report = json.loads(run_python(SNAPSHOT, *dependencies).splitlines()[-1])
    assert report['after'] == report['before']
    # ...and it did import the package and its scan kernels.
    assert {'mmgroupmamba.models', 'mmgroupmamba.ops',
            'mmgroupmamba.engine'} <= set(report['loaded'])


def test_a_stock_model_loads_as_without_the_import(tmp_path):
    """mmdet's ResNet-50 Mask R-CNN (mmpretrain's ResNet-50 where mmdet is
    not installed) from a file of another class count with a key short:
    the same weights and the same messages with and without the import."""
    # One file path for both runs: the messages name it.
    without = run_python(STOCK_LOAD, tmp_path / 'stock.pth', 'no-import')
    with_import = run_python(STOCK_LOAD, tmp_path / 'stock.pth', 'import')
    assert with_import == without
    assert 'size mismatch' in without  # mmengine's own report, as always
    assert 'CheckpointError' not in with_import


def test_import_from_a_source_checkout_without_install(tmp_path):
    """``PYTHONPATH=<clone>`` with no ``pip install`` (no ``.mim/``, ``ops/``
    outside the package): the package imports, the kernels run and the
    model index is the clone's."""
    clone = tmp_path / 'clone'
    subprocess.run(['git', 'clone', '-q', '--no-hardlinks', str(REPO),
                    str(clone)], check=True)
    for name in ('mmgroupmamba', 'ops', 'configs', 'model-index.yml'):
        # The working tree as it is now, committed or not.
        subprocess.run(['rm', '-rf', str(clone / name)], check=True)
        subprocess.run(['cp', '-r', str(REPO / name), str(clone / name)],
                       check=True)
    subprocess.run(['rm', '-rf', str(clone / 'mmgroupmamba' / '.mim')],
                   check=True)
    code = (
        'import torch, mmgroupmamba, mmgroupmamba.ops as ops\n'
        'from mmgroupmamba import model_zoo\n'
        'x = torch.randn(1, 8, 5)\n'
        'print(mmgroupmamba.__file__)\n'
        'print(ops.__file__)\n'
        'print(model_zoo.MIM_ROOT)\n')
    env = dict(os.environ, PYTHONPATH=str(clone), OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, '-c', code], cwd=tmp_path,
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    package, ops, root = result.stdout.split()
    assert package == str(clone / 'mmgroupmamba' / '__init__.py')
    assert ops == str(clone / 'ops' / '__init__.py')
    assert root == str(clone)
    assert 'metafile.yml is missing' not in result.stderr  # index found

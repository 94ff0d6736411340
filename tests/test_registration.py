"""The models build by name from mmpretrain, mmdet and mmseg registries."""
import importlib
import re

import pytest
import torch

import mmgroupmamba
from mmgroupmamba import ops


@pytest.mark.parametrize('package', ['mmpretrain', 'mmdet', 'mmseg'])
def test_backbone_builds_from_each_library(package):
    registry = importlib.import_module(f'{package}.registry').MODELS
    backbone = registry.build(
        dict(type='GroupMamba', arch='tiny', out_indices=(0, 1, 2, 3),
             out_norms=True))
    maps = backbone.eval()(torch.randn(1, 3, 64, 96))
    assert [m.shape[1] for m in maps] == [64, 128, 348, 448]
    assert [m.shape[-1] for m in maps] == [24, 12, 6, 3]


def test_ops_are_part_of_the_package():
    assert ops.__name__ == 'mmgroupmamba.ops'
    assert mmgroupmamba.selective_scan_fn is ops.selective_scan_fn


def test_unknown_constructor_argument_is_an_error():
    from mmengine.registry import MODELS
    with pytest.raises(TypeError, match='drop_rate'):
        MODELS.build(dict(type='GroupMamba', drop_rate=0.1))


def test_import_needs_no_openmmlab_task_library():
    """mmdet-only or mmseg-only users: importing must not need the others."""
    code = (
        'import sys\n'
        '# a None entry makes import fail and find_spec answer None, exactly\n'
        '# as for a package that is not installed\n'
        "for name in ('mmpretrain', 'mmdet', 'mmseg', 'mmcv'):\n"
        '    sys.modules[name] = None\n'
        'import torch, mmgroupmamba\n'
        'from mmengine.registry import MODELS\n'
        "m = MODELS.build(dict(type='GroupMamba', out_indices=(0, 3)))\n"
        'print([f.shape[1] for f in m(torch.randn(1, 3, 64, 64))])\n'
        "print('DualLinearClsHead' in MODELS.module_dict)\n")
    import subprocess
    import sys
    result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split('\n')[:2] == ['[64, 448]', 'False']


def test_features_of_newer_torch_name_the_version_they_need():
    from mmgroupmamba.torch_version import (ONNX_EXPORT, installed_torch,
                                            require_torch)
    assert installed_torch() == tuple(
        int(x) for x in torch.__version__.split('+')[0].split('.')[:2])
    with pytest.raises(RuntimeError,
                       match=r'a hover mode needs torch >= 99\.0; this is '
                       r'torch ' + re.escape(torch.__version__)):
        require_torch((99, 0), 'a hover mode')
    require_torch((2, 1), 'the backbone')  # the oldest supported
    assert ONNX_EXPORT == (2, 5)

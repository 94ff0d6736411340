"""The models build by name from mmpretrain, mmdet and mmseg registries."""
import importlib

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


def test_wheel_installs_ops_inside_the_package(tmp_path):
    """A real (non-editable) install puts ops/ at mmgroupmamba/ops only."""
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    target = tmp_path / 'site'
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
         '--no-build-isolation', '--no-index', '--target', str(target),
         str(repo)],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (target / 'mmgroupmamba' / 'ops' / '__init__.py').is_file()
    assert (target / 'mmgroupmamba' / 'ops' / 'cpu.py').is_file()
    assert not (target / 'ops').exists()
    probe = subprocess.run(
        [sys.executable, '-c',
         'import importlib.util; print(importlib.util.find_spec("ops"))'],
        cwd=tmp_path, capture_output=True, text=True)
    assert probe.stdout.strip() == 'None'

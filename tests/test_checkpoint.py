"""Loading rules: key mapping both ways, strict coverage, loud failures."""
import re

import pytest
import torch
from conftest import CONFIG_OF_ARCH, run_tool
from mmengine.config import Config
from mmpretrain.registry import MODELS
from official_weights import make_official_state_dict

import mmgroupmamba  # noqa: F401
from mmgroupmamba.models import GroupMamba
from mmgroupmamba.checkpoint import (CheckpointError, mm_to_official,
                                            official_to_mm, read_checkpoint)


def build_classifier(arch):
    return MODELS.build(Config.fromfile(CONFIG_OF_ARCH[arch]).model)


@pytest.mark.parametrize('arch', ['tiny', 'small', 'base'])
def test_mapping_covers_every_key_both_ways(arch):
    official = make_official_state_dict(arch, 0)
    converted = official_to_mm(official)
    model_state = build_classifier(arch).state_dict()
    assert set(converted) == set(model_state)
    for key, value in model_state.items():
        assert converted[key].shape == value.shape, key
    back = mm_to_official(converted)
    assert list(back) == list(official) or set(back) == set(official)
    for key, value in official.items():
        assert torch.equal(back[key], value), key


def test_scan_groups_are_stacked_in_direction_order():
    official = make_official_state_dict('tiny', 0)
    converted = official_to_mm(official)
    stacked = converted['backbone.stages.2.blocks.4.mixer.ssm.x_proj_weight']
    for k in range(4):
        assert torch.equal(
            stacked[k], official[f'block3.4.attn.mamba_g{k + 1}.x_proj_weight'][0])


def test_convert_tool_output_loads_strictly(converted_tiny_path):
    checkpoint = torch.load(converted_tiny_path, weights_only=True)
    assert checkpoint['meta']['arch'] == 'tiny'
    build_classifier('tiny').load_state_dict(checkpoint['state_dict'])


def test_convert_tool_accepts_wrapped_checkpoints(tmp_path):
    state_dict = make_official_state_dict('tiny', 1)
    for wrapper in ('model', 'state_dict'):
        src, dst = tmp_path / f'{wrapper}.pth', tmp_path / f'{wrapper}_mm.pth'
        torch.save({wrapper: state_dict}, src)
        assert 'GroupMamba-tiny' in run_tool('tools/convert_official.py', src, dst)


def test_wrong_arch_fails_naming_keys_and_arch(converted_tiny_path):
    from mmpretrain import get_model
    with pytest.raises(CheckpointError) as info:
        get_model(str(CONFIG_OF_ARCH['base']),
                  pretrained=str(converted_tiny_path))
    message = str(info.value)
    assert 'checkpoint: GroupMamba-tiny' in message
    assert 'model: GroupMamba-base' in message
    assert 'missing keys' in message and 'shape mismatches' in message


def test_missing_and_unexpected_keys_are_named(converted_tiny_path, tmp_path):
    checkpoint = torch.load(converted_tiny_path, weights_only=True)
    state = checkpoint['state_dict']
    del state['backbone.stages.1.blocks.2.mixer.ssm.dt_bias']
    state['backbone.stages.1.blocks.2.mixer.extra'] = torch.zeros(1)
    path = tmp_path / 'edited.pth'
    torch.save(checkpoint, path)
    model = build_classifier('tiny')
    before = model.backbone.stem.proj.weight.clone()
    from mmengine.runner import load_checkpoint
    with pytest.raises(CheckpointError,
                       match=r'(?s)missing keys \(1\): stages\.1\.blocks\.2'
                       r'\.mixer\.ssm\.dt_bias.*unexpected keys \(1\)'):
        load_checkpoint(model, str(path))  # mmengine's own non-strict loader
    assert torch.equal(model.backbone.stem.proj.weight, before)


def test_truncated_and_pickled_files_fail_clearly(converted_tiny_path,
                                                  tmp_path):
    data = converted_tiny_path.read_bytes()
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='truncated or corrupt'):
        read_checkpoint(str(truncated))
    pickled = tmp_path / 'pickled.pth'
    torch.save({'state_dict': {}, 'cfg': Config(dict(a=1))}, pickled)
    with pytest.raises(CheckpointError, match='weights_only=True refuses'):
        read_checkpoint(str(pickled))
    with pytest.raises(FileNotFoundError, match='not found'):
        read_checkpoint(str(tmp_path / 'absent.pth'))


@pytest.mark.parametrize('source', ['official', 'converted', 'detector'])
def test_backbone_pretrained_loads_every_layout(source, official_tiny_path,
                                                converted_tiny_path,
                                                tmp_path):
    path = {'official': official_tiny_path,
            'converted': converted_tiny_path}.get(source)
    reference = torch.load(converted_tiny_path,
                           weights_only=True)['state_dict']
    if source == 'detector':  # an mmdet checkpoint: backbone.* plus others
        path = tmp_path / 'detector.pth'
        detector = {k: v for k, v in reference.items()
                    if k.startswith('backbone.')}
        detector['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
        torch.save({'state_dict': detector, 'meta': {}}, path)
    backbone = GroupMamba(
        'tiny', out_indices=(0, 1, 2, 3), out_norms=True,
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    fresh_norm = backbone.norm2.weight.clone()
    backbone.init_weights()
    for key, value in backbone.state_dict().items():
        if re.fullmatch(r'norm\d\..*', key):
            continue  # the dense out norms are new layers
        assert torch.equal(value, reference[f'backbone.{key}']), key
    assert torch.equal(backbone.norm2.weight, fresh_norm)


def test_backbone_pretrained_incomplete_fails(converted_tiny_path, tmp_path):
    checkpoint = torch.load(converted_tiny_path, weights_only=True)
    del checkpoint['state_dict']['backbone.stages.3.blocks.0.ffn.fc1.weight']
    path = tmp_path / 'incomplete.pth'
    torch.save(checkpoint, path)
    backbone = GroupMamba(
        'tiny', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(CheckpointError,
                       match=r'missing keys \(1\): stages\.3\.blocks\.0\.ffn'):
        backbone.init_weights()
    missing = GroupMamba(
        'tiny', init_cfg=dict(type='Pretrained',
                              checkpoint=str(tmp_path / 'nope.pth')))
    with pytest.raises(FileNotFoundError):
        missing.init_weights()


def test_checkpoint_package_imports_downwards():
    """No import circle: models import the checkpoint package's lower
    modules; only its convert.py imports models; nothing imports inside a
    function to hide a circle."""
    import ast
    from pathlib import Path
    package = Path(mmgroupmamba.__file__).parent
    for path in sorted((package / 'checkpoint').glob('*.py')):
        tree = ast.parse(path.read_text())
        imported = [
            node.module or '' for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
        ]
        if path.name != 'convert.py':
            assert not [m for m in imported if 'models' in m], path.name
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert not [
                    node for node in ast.walk(function)
                    if isinstance(node, (ast.Import, ast.ImportFrom))
                ], f'{path.name}: {function.name} imports inside'

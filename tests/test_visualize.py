"""tools/visualize.py writes each picture."""
import pytest
from conftest import REPO, run_tool
from PIL import Image


@pytest.mark.parametrize('what, size', [('scan-orders', (1600, 400)),
                                        ('features', (2000, 460)),
                                        ('erf', (1700, 460))])
def test_visualize_writes_png(what, size, tmp_path):
    out = tmp_path / f'{what}.png'
    extra = ['--num-images', '1'] if what == 'erf' else []
    assert 'wrote' in run_tool('tools/visualize.py', what, out, *extra)
    with Image.open(out) as image:
        assert image.size == size
        assert len(set(image.convert('L').getdata())) > 16  # not blank


def test_pictures_backbone_holds_the_given_weights(official_tiny_path,
                                                   converted_tiny_path):
    """``--checkpoint`` reaches the drawn backbone, official or converted
    layout alike; a file of another model fails loudly."""
    import torch

    from mmgroupmamba.checkpoint import (CheckpointError, official_to_mm,
                                         read_checkpoint)
    from mmgroupmamba.visualization import build_backbone
    config = REPO / 'configs' / 'groupmamba_t_in1k.py'
    expected = official_to_mm(read_checkpoint(str(official_tiny_path)))
    for path in (official_tiny_path, converted_tiny_path):
        backbone = build_backbone(config, path)
        assert len(backbone.out_indices) == 4 and not backbone.training
        compared = 0
        for key, value in backbone.state_dict().items():
            if f'backbone.{key}' in expected:
                assert torch.equal(value, expected[f'backbone.{key}']), key
                compared += 1
        assert compared > 500  # every released backbone tensor
    with pytest.raises(CheckpointError):
        build_backbone(REPO / 'configs' / 'groupmamba_s_in1k.py',
                       official_tiny_path)

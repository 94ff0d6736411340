"""tools/visualize.py writes each picture."""
import pytest
from conftest import run_tool
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

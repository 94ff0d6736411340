"""tools/get_flops.py reproduces the official FLOP counts, scan included."""
import re

import pytest
from conftest import CONFIG_OF_ARCH, OFFICIAL_PARAMS, run_tool

# Official fvcore totals and the scan's share (official-params-flops.md).
OFFICIAL_GFLOPS = {'tiny': (4.706, 0.0168), 'small': (7.281, 0.0217),
                   'base': (14.186, 0.0363)}


@pytest.mark.parametrize('arch', ['tiny', 'small', 'base'])
def test_get_flops_matches_official(arch):
    out = run_tool('tools/get_flops.py', CONFIG_OF_ARCH[arch])
    total = re.search(r'\*\*total\*\* \| \*\*([\d,]+)\*\* \| \*\*([\d.]+)\*\*',
                      out)
    params, gflops = int(total[1].replace(',', '')), float(total[2])
    official_total, official_scan = OFFICIAL_GFLOPS[arch]
    assert params == OFFICIAL_PARAMS[arch]
    assert abs(gflops / official_total - 1) < 0.005
    scan = float(re.search(r'PythonOp\._ChunkedScan ([\d.]+)', out)[1])
    assert scan == pytest.approx(official_scan, rel=0.01)
    assert f'official GroupMamba-{arch}' in out


def test_get_flops_other_input_size():
    out = run_tool('tools/get_flops.py', CONFIG_OF_ARCH['tiny'], '--shape',
                   '256', '320')
    gflops = float(re.search(r'\*\*total\*\* \| \*\*[\d,]+\*\* \| '
                             r'\*\*([\d.]+)\*\*', out)[1])
    # roughly linear in pixels: 256*320 / 224^2 = 1.63x
    assert 1.5 * 4.706 < gflops < 1.75 * 4.706
    assert 'official GroupMamba' not in out  # no 224 px reference to compare

"""Every command line in tools/ answers ``--help`` before importing torch or
the package, and says what each of its arguments is."""
import re
import subprocess
import sys

import pytest
from conftest import REPO

TOOLS = sorted(path.name for path in (REPO / 'tools').glob('*.py'))
#: What --help must not wait for: torch and the libraries that import it.
HEAVY = ('torch', 'mmgroupmamba', 'mmpretrain', 'mmdet', 'mmseg', 'timm')


def undocumented(help_text):
    """Arguments listed in an argparse help text without a description."""
    lines = help_text.splitlines()
    missing = []
    for index, line in enumerate(lines):
        if not re.match(r'^  \S', line) or line.startswith('  -h, --help'):
            continue
        if re.search(r'\S {2,}\S', line.strip()):
            continue  # the description starts on the same line
        following = lines[index + 1] if index + 1 < len(lines) else ''
        if not re.match(r'^ {4,}[^\s-]', following):
            missing.append(line.strip())
    return missing


def test_every_tool_is_listed():
    assert len(TOOLS) >= 14 and 'train.py' in TOOLS


@pytest.mark.parametrize('tool', TOOLS)
def test_help_is_fast_and_complete(tool):
    result = subprocess.run(
        [sys.executable, '-X', 'importtime', f'tools/{tool}', '--help'],
        cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith('usage:'), result.stdout[:500]
    imported = {line.rsplit('|', 1)[1].strip()
                for line in result.stderr.splitlines()
                if line.startswith('import time:')}
    assert not imported & set(HEAVY), (
        f'{tool} --help imports {sorted(imported & set(HEAVY))}: parse '
        'the arguments before importing them')
    assert undocumented(result.stdout) == []


def test_undocumented_finds_an_argument_without_help():
    """The check above can fail: a bare argument is reported."""
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument('--documented', help='what it is')
    parser.add_argument('--bare', type=int)
    parser.add_argument('path')
    assert undocumented(parser.format_help()) == ['path', '--bare BARE']

"""mmgroupmamba: GroupMamba backbones for mmpretrain, mmdet and mmseg.

The selective-scan kernels live in the top-level ``ops/`` folder and are
installed as ``mmgroupmamba.ops`` (never as a bare ``ops`` module).

As OpenMMLab packages do, the package carries its configs, tools and model
index under ``mmgroupmamba/.mim/`` (what ``mim search``/``mim run`` and
``mmpretrain.list_models`` read): symlinks into the clone for an editable
install, copies in a wheel or sdist. setup.py lays them out before setup().
"""
import os
import shutil
import sys

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))
# What mmgroupmamba/.mim holds: paths relative to the repository root.
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def read_version():
    scope = {}
    with open(os.path.join(HERE, 'mmgroupmamba', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements(name):
    with open(os.path.join(HERE, 'requirements', name)) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip()
        ]


def mim_mode(argv):
    """'symlink' for an editable install (the clone stays the source),
    'copy' for a wheel or an sdist, None for metadata-only steps."""
    if 'develop' in argv or 'editable_wheel' in argv:
        return 'symlink'
    if 'sdist' in argv or 'bdist_wheel' in argv:
        return 'copy'
    return None


def lay_out_mim(mode):
    """(Re)create mmgroupmamba/.mim with MIM_FILES as symlinks or copies.

    In an unpacked sdist the copies are already there and the sources
    beside them too, so the same call works from either tree.
    """
    mim = os.path.join(HERE, 'mmgroupmamba', '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in MIM_FILES:
        source = os.path.join(HERE, name)
        target = os.path.join(mim, name)
        if not os.path.exists(source):
            raise FileNotFoundError(f'{source} is missing: it must ship in '
                                    'mmgroupmamba/.mim')
        if os.path.islink(target) or os.path.isfile(target):
            os.remove(target)
        elif os.path.isdir(target):
            shutil.rmtree(target)
        if mode == 'symlink':
            os.symlink(os.path.relpath(source, mim), target)
        elif os.path.isdir(source):
            shutil.copytree(source, target,
                            ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copyfile(source, target)


MODE = mim_mode(sys.argv)
if MODE is not None:
    lay_out_mim(MODE)

EXTRAS = {
    'cls': read_requirements('cls.txt'),
    'det': read_requirements('det.txt'),
    'seg': read_requirements('seg.txt'),
    'tests': read_requirements('tests.txt'),
    'export': read_requirements('export.txt'),
    # Sphinx + MyST for docs/ (pinned: sphinx-build -W runs in CI).
    'docs': read_requirements('docs.txt'),
    # mamba-ssm's compiled CUDA selective scan (GPU machines only).
    'cuda': ['mamba-ssm'],
}
EXTRAS['all'] = sorted(
    set(EXTRAS['cls'] + EXTRAS['det'] + EXTRAS['seg']))

setup(
    name='mmgroupmamba',
    version=read_version(),
    description='GroupMamba visual state-space backbones for OpenMMLab',
    long_description=open(os.path.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=('mmgroupmamba', 'mmgroupmamba.*')) +
    ['mmgroupmamba.ops'],
    package_dir={'mmgroupmamba.ops': 'ops'},
    # The compiled CPU kernels' C++ sources, built on first use (ops/cpu_compiled).
    package_data={'mmgroupmamba': ['.mim/**/*'],
                  'mmgroupmamba.ops': ['csrc/*.cpp', 'csrc/*.h']},
    install_requires=read_requirements('runtime.txt'),
    extras_require=EXTRAS,
    classifiers=[
        'Programming Language :: Python :: 3.10',
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
    ],
    license='Apache-2.0',
    zip_safe=False,
)

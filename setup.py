"""mmgroupmamba: GroupMamba backbones for mmpretrain, mmdet and mmseg.

The selective-scan kernels live in the top-level ``ops/`` folder and are
installed as ``mmgroupmamba.ops`` (never as a bare ``ops`` module).
"""
import os

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))


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


setup(
    name='mmgroupmamba',
    version=read_version(),
    description='GroupMamba visual state-space backbones for OpenMMLab',
    long_description=open(os.path.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=[
        'mmgroupmamba', 'mmgroupmamba.models', 'mmgroupmamba.ops'
    ],
    package_dir={'mmgroupmamba.ops': 'ops'},
    # torch/torchvision/mmcv come first from tools/setup_env.sh (mmcv must be
    # built against the pinned torch); these are the rest.
    install_requires=['torch', 'mmengine'] + read_requirements('runtime.txt'),
    extras_require={
        'tests': read_requirements('tests.txt'),
        'export': read_requirements('export.txt'),
        # mamba-ssm's compiled CUDA selective scan (GPU machines only).
        'cuda': ['mamba-ssm'],
    },
    license='Apache-2.0',
    zip_safe=False,
)

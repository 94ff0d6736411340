"""The package as a user gets it: an sdist and a wheel, installed elsewhere.

The artifacts are built from a copy of the clone's files (what git would
commit), as ``python -m build`` does: the sdist first, the wheel from the
unpacked sdist. Each is installed into a fresh virtual environment that
reuses this environment's libraries through a ``.pth`` line (no second
torch download; the line adds a path, and the editable install in this
environment is invisible there: its finder lives in a ``.pth`` file of this
environment's site directory, which a mere path entry does not run). Every
check then runs with its working directory outside the clone.
"""
import json
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import DATA, REPO

from mmgroupmamba.ops import cpu_compiled

# The compiled CPU kernels' sources and headers, which the package must ship.
CSRC_FILES = [Path(p).name for p in cpu_compiled.SOURCES + cpu_compiled.HEADERS]

# What the installed package must do, run inside the fresh environment.
PROBE = r'''
import importlib, importlib.util, json, pathlib, sys
import torch
import mmgroupmamba
from mmgroupmamba import ops
from mmengine.config import Config
from mmengine.registry import DefaultScope

ckpt, golden_path, out_path = sys.argv[1:4]
root = pathlib.Path(mmgroupmamba.__file__).parent
report = dict(package=str(root), ops=ops.__file__,
              bare_ops=importlib.util.find_spec('ops') is not None,
              mim_files=sorted(p.name for p in (root / '.mim').iterdir()),
              mim_configs_is_link=(root / '.mim' / 'configs').is_symlink())

report['widths'] = {}
for package in ('mmpretrain', 'mmdet', 'mmseg'):
    registry = importlib.import_module(package + '.registry').MODELS
    backbone = registry.build(dict(type='GroupMamba', arch='tiny',
                                   out_indices=(0, 1, 2, 3)))
    with torch.no_grad():
        maps = backbone.eval()(torch.randn(1, 3, 64, 64))
    report['widths'][package] = [m.shape[1] for m in maps]

from mmpretrain import get_model, list_models
from mmpretrain.apis import ModelHub
report['models'] = list_models('*groupmamba*')
report['config'] = ModelHub.get('groupmamba-tiny_3rdparty_in1k').config.filename
model = get_model('groupmamba-tiny_3rdparty_in1k', pretrained=ckpt).eval()
golden = torch.load(golden_path, weights_only=True)
with torch.no_grad():
    logits = model(golden['input'], mode='tensor')
reference = golden['logits_eval']
report['logit_error'] = ((logits - reference).abs().max()
                         / (1 + reference.abs().max())).item()

configs = root / '.mim' / 'configs'
report['dense'] = {}
for scope, name in (('mmdet', 'maskrcnn_groupmamba_t_1x_coco.py'),
                    ('mmdet', 'maskrcnn_groupmamba_t_3x_ms_coco.py'),
                    ('mmdet', 'cascade_maskrcnn_groupmamba_t_3x_ms_coco.py'),
                    ('mmdet', 'smoke/cascade_maskrcnn_groupmamba_t_3x_ms_smoke.py'),
                    ('mmseg', 'upernet_groupmamba_t_ade20k.py')):
    cfg = Config.fromfile(str(configs / name))
    registry = importlib.import_module(scope + '.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        detector = registry.build(cfg.model)
    report['dense'][name] = [type(detector).__name__,
                             type(detector.backbone).__module__]
pathlib.Path(out_path).write_text(json.dumps(report))
'''


def run(*args, cwd):
    result = subprocess.run([str(a) for a in args], cwd=cwd,
                            capture_output=True, text=True)
    assert result.returncode == 0, (
        f'{args} failed ({result.returncode}):\n{result.stdout[-3000:]}\n'
        f'{result.stderr[-3000:]}')
    return result


def committable_copy(destination):
    """Copy what git would commit (tracked and new, unignored files)."""
    listing = run('git', 'ls-files', '-z', '--cached', '--others',
                  '--exclude-standard', cwd=REPO).stdout
    for name in filter(None, listing.split('\0')):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the work tree is gone
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


@pytest.fixture(scope='module')
def artifacts(tmp_path_factory):
    """(sdist, wheel) built from a copy of the clone."""
    root = tmp_path_factory.mktemp('packaging')
    source = committable_copy(root / 'src')
    dist = root / 'dist'
    run(sys.executable, '-m', 'build', '--no-isolation', '--outdir', dist,
        source, cwd=root)
    (sdist, ) = dist.glob('mmgroupmamba-*.tar.gz')
    (wheel, ) = dist.glob('mmgroupmamba-*.whl')
    return sdist, wheel


def fresh_environment(path):
    """A new venv that sees this environment's libraries but not its
    editable mmgroupmamba."""
    run(getattr(sys, '_base_executable', sys.executable), '-m', 'venv',
        '--without-pip', path, cwd=path.parent)
    python = path / 'bin' / 'python'
    site = Path(run(python, '-c', 'import sysconfig; '
                    "print(sysconfig.get_paths()['purelib'])",
                    cwd=path).stdout.strip())
    (site / 'reuse_libraries.pth').write_text(
        sysconfig.get_paths()['purelib'] + '\n')
    return python


def test_wheel_holds_every_subpackage_and_the_model_index(artifacts):
    _, wheel = artifacts
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ('mmgroupmamba/__init__.py', 'mmgroupmamba/ops/cpu.py',
                   'mmgroupmamba/ops/triton_scan.py',
                   'mmgroupmamba/ops/cpu_compiled.py',
                   *(f'mmgroupmamba/ops/csrc/{name}' for name in CSRC_FILES),
                   'mmgroupmamba/engine/weights_only_hook.py',
                   'mmgroupmamba/models/backbone.py',
                   'mmgroupmamba/.mim/model-index.yml',
                   'mmgroupmamba/.mim/configs/metafile.yml',
                   'mmgroupmamba/.mim/configs/maskrcnn_groupmamba_t_1x_coco.py',
                   'mmgroupmamba/.mim/configs/metafile_det.yml',
                   'mmgroupmamba/.mim/configs/metafile_seg.yml',
                   'mmgroupmamba/.mim/configs/maskrcnn_groupmamba_b_3x_ms_coco.py',
                   'mmgroupmamba/.mim/configs/cascade_maskrcnn_groupmamba_b_3x_ms_coco.py',
                   'mmgroupmamba/.mim/configs/smoke/maskrcnn_groupmamba_t_3x_ms_smoke.py',
                   'mmgroupmamba/.mim/configs/smoke/cascade_maskrcnn_groupmamba_t_3x_ms_smoke.py',
                   'mmgroupmamba/benchmarks/checkpointing.py',
                   'mmgroupmamba/.mim/tools/benchmark_with_cp.py',
                   'mmgroupmamba/.mim/configs/smoke/upernet_groupmamba_t_smoke.py',
                   'mmgroupmamba/.mim/tools/convert_official.py'):
        assert module in names, module
    assert not any(n.startswith('ops/') for n in names)  # never a bare 'ops'
    metadata = next(n for n in names if n.endswith('.dist-info/METADATA'))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    requires = [line for line in text.splitlines()
                if line.startswith('Requires-Dist:')]
    # import needs torch, mmengine, timm, numpy; task libraries are extras
    assert [r for r in requires if 'extra ==' not in r] == [
        'Requires-Dist: torch>=2.1', 'Requires-Dist: mmengine<1.0.0,>=0.10.3',
        'Requires-Dist: timm>=0.9', 'Requires-Dist: numpy'
    ]
    assert 'Requires-Dist: mmdet<3.4.0,>=3.3.0; extra == "det"' in requires
    assert 'Requires-Python: >=3.10' in text


def test_sdist_holds_what_setup_reads(artifacts):
    sdist, _ = artifacts
    names = {n.split('/', 1)[1] for n in tarfile.open(sdist).getnames()
             if '/' in n}
    for name in ('setup.py', 'README.md', 'model-index.yml', 'MANIFEST.in',
                 'requirements/runtime.txt', 'requirements/det.txt',
                 'ops/cpu.py', *(f'ops/csrc/{name}' for name in CSRC_FILES),
                 'configs/metafile.yml', 'configs/metafile_det.yml',
                 'configs/metafile_seg.yml',
                 'mmgroupmamba/.mim/configs/metafile.yml',
                 'mmgroupmamba/.mim/configs/metafile_seg.yml'):
        assert name in names, name


@pytest.mark.parametrize('kind', ['wheel', 'sdist'])
def test_installed_package_works_outside_the_clone(kind, artifacts,
                                                   converted_tiny_path,
                                                   tmp_path):
    sdist, wheel = artifacts
    python = fresh_environment(tmp_path / 'env')
    # sdist: pip builds the wheel itself (setuptools from this environment)
    run(sys.executable, '-m', 'pip', '--python', python, 'install', '-q',
        '--no-deps', '--no-index', '--no-build-isolation',
        wheel if kind == 'wheel' else sdist, cwd=tmp_path)
    outside = tmp_path / 'elsewhere'
    outside.mkdir()
    report_path = tmp_path / 'report.json'
    run(python, '-c', PROBE, converted_tiny_path, DATA / 'golden_tiny_seed0.pt',
        report_path, cwd=outside)
    report = json.loads(report_path.read_text())

    installed = Path(report['package'])
    assert installed.is_relative_to(tmp_path / 'env'), installed
    assert Path(report['ops']).parent == installed / 'ops'
    assert not report['bare_ops']
    assert report['mim_files'] == ['configs', 'model-index.yml', 'tools']
    assert not report['mim_configs_is_link']  # copies, not links to a clone
    assert report['widths'] == {
        p: [64, 128, 348, 448] for p in ('mmpretrain', 'mmdet', 'mmseg')
    }
    assert report['models'] == [
        'groupmamba-base_3rdparty_in1k', 'groupmamba-small_3rdparty_in1k',
        'groupmamba-tiny_3rdparty_in1k'
    ]
    assert Path(report['config']) == (
        installed / '.mim' / 'configs' / 'groupmamba_t_8xb128_in1k.py')
    assert report['logit_error'] < 1e-4  # the golden tolerance
    backbone = 'mmgroupmamba.models.backbone'
    assert report['dense'] == {
        'maskrcnn_groupmamba_t_1x_coco.py': ['MaskRCNN', backbone],
        'maskrcnn_groupmamba_t_3x_ms_coco.py': ['MaskRCNN', backbone],
        'cascade_maskrcnn_groupmamba_t_3x_ms_coco.py':
        ['CascadeRCNN', backbone],
        'smoke/cascade_maskrcnn_groupmamba_t_3x_ms_smoke.py':
        ['CascadeRCNN', backbone],
        'upernet_groupmamba_t_ade20k.py': ['EncoderDecoder', backbone],
    }

    search = run(python, '-m', 'mim', 'search', 'mmgroupmamba', cwd=outside)
    entries = search_entries(search.stdout)
    sizes = ('t', 's', 'b')
    assert sorted(entries) == sorted(
        [f'groupmamba-{size}_3rdparty_in1k'
         for size in ('tiny', 'small', 'base')] +
        [f'mask-rcnn_groupmamba-{s}_fpn_1x_coco' for s in sizes] +
        [f'mask-rcnn_groupmamba-{s}_fpn_ms-crop-3x_coco' for s in sizes] +
        [f'cascade-mask-rcnn_groupmamba-{s}_fpn_4conv1fc-giou_amp-ms-crop-'
         '3x_coco' for s in sizes] +
        [f'upernet_groupmamba-{s}_8xb2-160k_ade20k-512x512' for s in sizes])
    # The paper's numbers, marked as the paper's, and nothing to download.
    maskrcnn = entries['mask-rcnn_groupmamba-t_fpn_1x_coco']
    assert (maskrcnn['coco/box_ap'], maskrcnn['coco/mask_ap']) == \
        ('47.6', '42.9')
    assert maskrcnn['metrics_source'] == \
        "the paper's (arxiv 2407.13772, table 2)"
    upernet = entries['upernet_groupmamba-t_8xb2-160k_ade20k-512x512']
    assert (upernet['ade20k/miou'], upernet['ade20k/miou(ms)']) == \
        ('48.6', '49.2')
    assert upernet['config'] == 'configs/upernet_groupmamba_t_ade20k.py'
    cascade = entries['cascade-mask-rcnn_groupmamba-t_fpn_4conv1fc-giou_amp-'
                      'ms-crop-3x_coco']
    assert cascade['parameters'] == '78456698'
    assert not any(key.startswith('coco/') for key in cascade)
    assert not any('weight' in entry for entry in entries.values())


def search_entries(text):
    """``mim search`` output as {model name: {field: value}}."""
    entries = {}
    for block in text.split('config id: ')[1:]:
        lines = block.splitlines()
        fields = (line.split(None, 1) for line in lines[1:]
                  if line.strip() and not line.startswith('---'))
        entries[lines[0].strip()] = {f[0]: f[1] if len(f) > 1 else ''
                                     for f in fields}
    return entries

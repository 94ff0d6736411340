"""One contract for weights, wherever they come in, and early argument errors.

Each test here is one of the defects listed in issue 14 (part A): a path that
loaded the wrong weights quietly, or reported a failure misleadingly, or an
impossible argument that was accepted until the first forward.
"""
import pytest
import torch
from conftest import CONFIG_OF_ARCH, REPO, one_thread_in_scope
from mmengine.config import Config
from mmengine.registry import MODELS
from mmengine.runner import Runner

import mmgroupmamba  # noqa: F401
from mmgroupmamba.apis import init_model, set_scan_backend
from mmgroupmamba.checkpoint import CheckpointError, read_checkpoint
from mmgroupmamba.models import GroupMamba

SMOKE = REPO / 'configs' / 'smoke'
DET_SMOKE = SMOKE / 'maskrcnn_groupmamba_t_smoke.py'
SEG_SMOKE = SMOKE / 'upernet_groupmamba_t_smoke.py'


def save_model(config, scope, path):
    """Build ``config``'s model with random weights and save it as the
    Runner would (``state_dict`` + ``meta``); return its state_dict."""
    with one_thread_in_scope(scope):
        model = MODELS.build(Config.fromfile(config).model)
    state_dict = model.state_dict()
    torch.save(dict(state_dict=state_dict, meta={}), path)
    return state_dict


@pytest.fixture(scope='module')
def detector_path(tmp_path_factory):
    """A Mask R-CNN smoke checkpoint: the same backbone as the UperNet smoke
    config's, other necks and heads."""
    pytest.importorskip('mmdet')  # the oldest tested stack has no mmdet
    path = tmp_path_factory.mktemp('det') / 'maskrcnn_smoke.pth'
    save_model(DET_SMOKE, 'mmdet', path)
    return path


@pytest.fixture(scope='module')
def truncated_detector_path(detector_path, tmp_path_factory):
    data = detector_path.read_bytes()
    path = tmp_path_factory.mktemp('truncated') / 'maskrcnn_truncated.pth'
    path.write_bytes(data[:len(data) // 2])
    return path


# ------------------------------------------------ 1. another task's model
def test_seg_inferencer_refuses_a_detector_checkpoint(detector_path):
    """The backbone keys match, the heads do not: before, the heads stayed
    random with only mmengine's warning."""
    pytest.importorskip('mmseg')
    from mmseg.apis import MMSegInferencer
    with one_thread_in_scope('mmseg'), pytest.raises(
            CheckpointError,
            match=r'(?s)missing keys \(\d+\): (decode_head|auxiliary_head)'
            r'.*unexpected keys \(\d+\): .*(rpn_head|roi_head|neck)'):
        MMSegInferencer(
            model=str(SEG_SMOKE), weights=str(detector_path), device='cpu')


@pytest.mark.parametrize('resume', [False, True])
def test_runner_load_from_and_resume_refuse_a_detector_checkpoint(
        detector_path, tmp_path, resume):
    """``load_from`` (also what ``mim test --checkpoint`` sets) and
    ``resume`` are strict."""
    pytest.importorskip('mmseg')
    cfg = Config.fromfile(SEG_SMOKE)
    cfg.work_dir = str(tmp_path)
    cfg.load_from = str(detector_path)
    cfg.resume = resume
    with one_thread_in_scope('mmseg'):
        runner = Runner.from_cfg(cfg)
        with pytest.raises(CheckpointError, match='missing keys'):
            runner.load_or_resume()


@pytest.fixture(scope='module')
def segmentor_path(tmp_path_factory):
    pytest.importorskip('mmseg')
    path = tmp_path_factory.mktemp('seg') / 'upernet_smoke.pth'
    save_model(SEG_SMOKE, 'mmseg', path)
    return path


def test_det_inferencer_refuses_a_segmentor_checkpoint(segmentor_path):
    from mmdet.apis import DetInferencer
    with one_thread_in_scope('mmdet'), pytest.raises(
            CheckpointError,
            match=r'(?s)missing keys \(\d+\): .*unexpected keys \(\d+\): '
            r'.*(decode_head|auxiliary_head)'):
        DetInferencer(
            model=str(DET_SMOKE),
            weights=str(segmentor_path),
            device='cpu',
            show_progress=False)


def test_cls_inferencer_refuses_a_partial_checkpoint(converted_tiny_path,
                                                    tmp_path):
    from mmpretrain import ImageClassificationInferencer
    checkpoint = torch.load(converted_tiny_path, weights_only=True)
    del checkpoint['state_dict']['head.dist_fc.weight']
    partial = tmp_path / 'partial.pth'
    torch.save(checkpoint, partial)
    with one_thread_in_scope('mmpretrain'), pytest.raises(
            CheckpointError, match=r'missing keys \(1\): dist_fc\.weight'):
        ImageClassificationInferencer(
            model=str(CONFIG_OF_ARCH['tiny']), pretrained=str(partial))


# ---------------------------------------------- 2. not a checkpoint at all
def test_a_text_file_is_not_a_checkpoint(tmp_path):
    bad = tmp_path / 'bad.pth'
    bad.write_text('x\n')
    with pytest.raises(CheckpointError, match='not a PyTorch checkpoint') \
            as info:
        read_checkpoint(str(bad))
    # Never the unsafe advice meant for files that hold pickled objects.
    assert 'weights_only' not in str(info.value)
    from mmpretrain import get_model
    with pytest.raises(CheckpointError, match='not a PyTorch checkpoint'):
        get_model(str(CONFIG_OF_ARCH['tiny']), pretrained=str(bad))


# ---------------------------- 3. official layout where a converted one is due
def test_get_model_with_an_official_file_names_the_conversion(
        official_tiny_path):
    from mmpretrain import get_model
    with pytest.raises(CheckpointError,
                       match=r'official layout.*tools/convert_official\.py'):
        get_model(str(CONFIG_OF_ARCH['tiny']),
                  pretrained=str(official_tiny_path))


# ------------------------------------------------------------- 4. truncated
def test_get_model_with_a_truncated_file(converted_tiny_path, tmp_path):
    from mmpretrain import get_model
    data = converted_tiny_path.read_bytes()
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='truncated or corrupt'):
        get_model(str(CONFIG_OF_ARCH['tiny']), pretrained=str(truncated))


def test_det_inferencer_with_a_truncated_file(truncated_detector_path):
    from mmdet.apis import DetInferencer
    with one_thread_in_scope('mmdet'), pytest.raises(
            CheckpointError, match='truncated or corrupt'):
        DetInferencer(
            model=str(DET_SMOKE),
            weights=str(truncated_detector_path),
            device='cpu',
            show_progress=False)


# ---------------------------------------------- 5. impossible arguments
@pytest.mark.parametrize('backend', ['bogus', 'CPU'])
def test_unknown_scan_backend_fails_at_construction(backend):
    with pytest.raises(ValueError, match=r"scan backend.*'cpu'.*'reference'"):
        GroupMamba('tiny', scan_backend=backend)


def test_unavailable_scan_backend_fails_at_construction():
    statuses = mmgroupmamba.ops.available_backends('cpu')
    if torch.cuda.is_available():
        pytest.skip('every backend may run on this machine\'s GPU')
    unavailable = [name for name, status in statuses.items()
                   if not status.available]
    if not unavailable:
        pytest.skip('every scan backend can run here')
    with pytest.raises(ValueError, match='cannot run on this machine'):
        GroupMamba('tiny', scan_backend=unavailable[0])


@pytest.mark.parametrize('kwargs, message', [
    (dict(out_indices=()), 'out_indices must name at least one stage'),
    (dict(out_indices=(1, -3)), 'twice'),
    (dict(in_channels=0), 'in_channels'),
    (dict(drop_path_rate=1.0), 'drop_path_rate'),
    (dict(drop_path_rate=-0.1), 'drop_path_rate'),
])
def test_impossible_arguments_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GroupMamba('tiny', **kwargs)


# -------------------------------------------- the strict entry point in apis/
def test_init_model_loads_strictly_with_the_chosen_backend(
        converted_tiny_path, tmp_path):
    model = init_model(CONFIG_OF_ARCH['tiny'], str(converted_tiny_path),
                       scan_backend='reference')
    expected = read_checkpoint(str(converted_tiny_path))
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key
    backends = {m.scan_backend for m in model.modules()
                if hasattr(m, 'scan_backend')}
    assert backends == {'reference'}
    assert not model.training
    set_scan_backend(model, 'cpu')
    assert {m.scan_backend for m in model.modules()
            if hasattr(m, 'scan_backend')} == {'cpu'}
    with pytest.raises(ValueError, match='scan backend'):
        set_scan_backend(model, 'bogus')
    del expected['head.fc.bias']
    partial = tmp_path / 'partial.pth'
    torch.save(dict(state_dict=expected), partial)
    with pytest.raises(CheckpointError, match=r'missing keys \(1\)'):
        init_model(CONFIG_OF_ARCH['tiny'], str(partial))

"""The backbone's ``compile`` flag: one config key that runs the backbone
through ``torch.compile`` wherever the config goes (mmpretrain's
inferencer here; mmdet/mmseg test tools alike), with eager's numbers.

A small custom arch keeps each compilation to seconds; GroupMamba-T takes
the same path (docs/user_guides/configs.md, the compile flag).
"""
import copy

import numpy as np
import pytest
import torch
from conftest import CONFIG_OF_ARCH, one_thread_in_scope
from mmengine.config import Config

from mmgroupmamba.models import GroupMamba
from mmgroupmamba.torch_version import CUSTOM_OPS_SUPPORTED

SMALL = dict(stem_channels=8, embed_dims=[16, 32, 48, 64], depths=[1, 1, 2, 1],
             mlp_ratios=[2, 2, 2, 2])

needs_custom_ops = pytest.mark.skipif(
    not CUSTOM_OPS_SUPPORTED,
    reason='compile=... needs torch >= 2.4 (tested to refuse below)')


@pytest.fixture(autouse=True)
def fresh_dynamo():
    """Each test compiles from scratch: after a second input shape dynamo
    would compile a slower dynamic-shape graph for every later test."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def compiled_graphs():
    """How many graphs dynamo has compiled in this process."""
    from torch._dynamo.utils import counters
    return counters['stats']['unique_graphs']


def small_classifier_config():
    cfg = Config.fromfile(CONFIG_OF_ARCH['tiny'])
    cfg.model.backbone.arch = SMALL
    cfg.model.neck.in_channels = SMALL['embed_dims'][-1]
    cfg.model.head.in_channels = SMALL['embed_dims'][-1]
    return cfg


@needs_custom_ops
def test_config_flag_reaches_the_inferencer_with_eager_numbers(tmp_path):
    from mmpretrain import ImageClassificationInferencer
    from mmpretrain.registry import MODELS
    cfg = small_classifier_config()
    torch.manual_seed(0)
    with one_thread_in_scope('mmpretrain'):
        weights = tmp_path / 'small.pth'
        # Random weights (init_weights would load the config's teacher).
        torch.save({'state_dict': MODELS.build(cfg.model).state_dict()},
                   weights)
        compiled_cfg = copy.deepcopy(cfg)
        compiled_cfg.model.backbone.compile = True
        images = list(
            np.random.RandomState(0).randint(0, 256, (2, 80, 96, 3),
                                             dtype=np.uint8))
        scores = {}
        for name, config in (('eager', cfg), ('compiled', compiled_cfg)):
            inferencer = ImageClassificationInferencer(
                model=config, pretrained=str(weights), device='cpu')
            before = compiled_graphs()
            results = inferencer(images, batch_size=2)
            scores[name] = np.stack([r['pred_scores'] for r in results])
            # The compiled inferencer really ran a compiled graph.
            assert (compiled_graphs() > before) == (name == 'compiled')
    assert scores['eager'].shape == (2, 1000)
    np.testing.assert_allclose(scores['compiled'], scores['eager'],
                               rtol=1e-4, atol=1e-6)


@needs_custom_ops
def test_compiled_backbone_trains_like_eager():
    torch.manual_seed(0)
    eager = GroupMamba(SMALL).train()
    compiled = GroupMamba(SMALL, compile=True)
    compiled.load_state_dict(eager.state_dict())
    compiled.train()
    images = torch.randn(2, 3, 64, 64)
    losses = [(model(images)[0]**2).sum() for model in (eager, compiled)]
    for loss in losses:
        loss.backward()
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-5, atol=0)
    for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
        scale = p.grad.abs().max()
        assert (q.grad - p.grad).abs().max() <= 1e-4 * scale + 1e-12, name


@needs_custom_ops
def test_a_deep_copy_runs_its_own_weights():
    # mmengine's EMA keeps a deep copy: it must not call the original.
    torch.manual_seed(0)
    model = GroupMamba(SMALL, compile=True).eval()
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.stages[3].blocks[0].ffn.fc2.weight.zero_()
        eager_twin = GroupMamba(SMALL).eval()
        eager_twin.load_state_dict(twin.state_dict())
        images = torch.randn(1, 3, 64, 64)
        with one_thread_in_scope('mmpretrain'):
            own, copied, expected = (m(images)[0]
                                     for m in (model, twin, eager_twin))
    torch.testing.assert_close(copied, expected, rtol=1e-4, atol=1e-5)
    assert (copied - own).abs().max() > 1e-3


def test_bad_compile_options_fail_at_construction():
    with pytest.raises(TypeError, match='compile must be True, False or a '
                       "dict of torch.compile options, got 'yes'"):
        GroupMamba(SMALL, compile='yes')
    if CUSTOM_OPS_SUPPORTED:
        # torch itself names the bad option before anything is compiled.
        with pytest.raises(RuntimeError, match='Unrecognized mode=warp'):
            GroupMamba(SMALL, compile=dict(mode='warp'))


@pytest.mark.skipif(CUSTOM_OPS_SUPPORTED, reason='torch >= 2.4 compiles')
def test_compile_on_old_torch_names_the_version():
    with pytest.raises(RuntimeError, match=r'needs torch >= 2\.4'):
        GroupMamba(SMALL, compile=True)

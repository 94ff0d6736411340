"""Activation checkpointing, ``GroupMamba(with_cp=True)``: the same outputs
and parameter gradients as without it, in float64 and bit for bit (drop path,
frozen stages and norm_eval included), under the compile flag and under DDP
in two gloo processes; the blocks really run twice; the benchmark tool's
memory and time comparison.
"""
import copy
import os
import re
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import REPO
from torch.nn.parallel import DistributedDataParallel

from mmgroupmamba.models import GroupMamba
from mmgroupmamba.models.backbone import Block
from mmgroupmamba.torch_version import CUSTOM_OPS_SUPPORTED

SMALL = dict(stem_channels=8, embed_dims=[16, 32, 48, 64], depths=[2, 1, 2, 1],
             mlp_ratios=[2, 2, 2, 2])
DENSE = dict(out_indices=(0, 1, 2, 3), out_norms=True)


@pytest.fixture(autouse=True)
def one_thread():
    """One thread: the 2-core test machine is shared (see conftest)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(with_cp, dtype=torch.float64, seed=0, arch=SMALL, **kwargs):
    torch.manual_seed(seed)
    options = dict(DENSE, **kwargs)
    return GroupMamba(arch, with_cp=with_cp, **options).to(dtype)


def count_block_calls(model):
    """Count each Block's forward calls (a recomputation is a call; a
    pre-hook, because torch may stop a recomputation early, before the
    block returns)."""
    calls = {}

    def hook(name):
        def count(module, args):
            calls[name] = calls.get(name, 0) + 1
        return count

    for name, module in model.named_modules():
        if isinstance(module, Block):
            module.register_forward_pre_hook(hook(name))
    return calls


def train_step(model, images, seed=1):
    """Forward and backward in training mode; the drop-path RNG seeded."""
    model.train()
    torch.manual_seed(seed)
    maps = model(images)
    loss = sum((m * torch.linspace(-1, 1, m.shape[1], dtype=m.dtype)
                [None, :, None, None]).square().mean() for m in maps)
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()
             if p.grad is not None}
    return maps, grads


def images(dtype=torch.float64, batch=2, size=(64, 96), seed=2):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, *size, generator=generator, dtype=dtype)


def assert_identical(run_a, run_b):
    maps_a, grads_a = run_a
    maps_b, grads_b = run_b
    assert len(maps_a) == len(maps_b) == 4
    for a, b in zip(maps_a, maps_b):
        assert torch.equal(a, b)
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        assert torch.equal(grads_a[name], grads_b[name]), name


# ------------------------------------------------------------------- exactness
def test_float64_outputs_and_gradients_are_identical_with_drop_path():
    x = images()
    plain = build(False, drop_path_rate=0.5)
    checkpointed = build(True, drop_path_rate=0.5)
    calls = count_block_calls(checkpointed)
    run_plain = train_step(plain, x)
    run_cp = train_step(checkpointed, x)
    assert_identical(run_plain, run_cp)
    # Each block ran twice: forward, then recomputed in the backward.
    assert set(calls.values()) == {2} and len(calls) == sum(SMALL['depths'])
    # Every parameter got a gradient, and drop path did drop: the training
    # output is not the eval output.
    assert len(run_cp[1]) == sum(1 for _ in checkpointed.parameters())
    with torch.no_grad():
        eval_maps = checkpointed.eval()(x)
    assert not torch.equal(eval_maps[-1], run_cp[0][-1])


def test_the_backward_replays_the_forward_drop_path_masks():
    """The recomputation draws the same masks as the forward: torch's
    checkpoint restores the RNG state (preserve_rng_state). Without that
    the gradients would differ; shown here with it switched off."""
    from torch.utils import checkpoint as torch_checkpoint
    x = images()
    reference = train_step(build(False, drop_path_rate=0.5), x)
    original = torch_checkpoint.checkpoint

    def without_rng_replay(*args, **kwargs):
        return original(*args, preserve_rng_state=False, **kwargs)

    import mmgroupmamba.models.backbone as backbone_module
    backbone_module.checkpoint = without_rng_replay
    try:
        no_replay = train_step(build(True, drop_path_rate=0.5), x)
    finally:
        backbone_module.checkpoint = original
    assert all(torch.equal(a, b) for a, b in zip(reference[0], no_replay[0]))
    assert any(not torch.equal(reference[1][name], no_replay[1][name])
               for name in reference[1])


def test_no_checkpointing_in_eval_or_without_grad():
    model = build(True, drop_path_rate=0.2)
    calls = count_block_calls(model)
    x = images()
    with torch.no_grad():
        model.train()(x)  # training mode, grad off: plain forward
    model.eval()(x)
    assert set(calls.values()) == {2}  # once per forward, no recomputation


def test_frozen_stages_and_norm_eval():
    """Frozen stages (eval mode, no grad) run plainly; the rest is
    checkpointed; gradients and the stem's BN statistics as without."""
    x = images()
    runs, counts, stats = [], [], []
    for with_cp in (False, True):
        model = build(with_cp, drop_path_rate=0.3, frozen_stages=2,
                      norm_eval=True)
        calls = count_block_calls(model)
        runs.append(train_step(model, x))
        counts.append(calls)
        stats.append(model.stem.conv[1].running_mean.clone())
        # Frozen: no gradients; norm_eval: the stem's BN stays in eval.
        assert not any(p.requires_grad for p in model.stages[1].parameters())
        assert not model.stem.conv[1].training
    assert_identical(*runs)
    assert torch.equal(stats[0], stats[1])
    assert torch.equal(stats[0], torch.zeros_like(stats[0]))  # never updated
    frozen = {name: n for name, n in counts[1].items()
              if name.startswith(('stages.0.', 'stages.1.'))}
    assert set(frozen.values()) == {1} and len(frozen) == 3
    trained = {name: n for name, n in counts[1].items() if name not in frozen}
    assert set(trained.values()) == {2} and len(trained) == 3
    assert set(runs[1][1]) == {name for name, p in
                               build(True, frozen_stages=2).named_parameters()
                               if p.requires_grad}


@pytest.mark.parametrize('bad', ['False', 1, None])
def test_with_cp_must_be_a_bool(bad):
    with pytest.raises(TypeError, match='with_cp must be True or False'):
        GroupMamba(SMALL, with_cp=bad)


# --------------------------------------------------------- the compile flag
@pytest.mark.skipif(not CUSTOM_OPS_SUPPORTED,
                    reason='compile=... needs torch >= 2.4')
def test_compiled_checkpointed_backbone_matches_eager():
    """compile=True with with_cp=True: eager's outputs and gradients within
    float32 rounding (no drop path: compiled code draws its own random
    numbers)."""
    from torch._dynamo.utils import counters
    torch._dynamo.reset()
    counters.clear()
    try:
        x = images(torch.float32, size=(64, 64))
        # One block a stage: compiling forward and backward takes a while.
        arch = dict(SMALL, depths=[1, 1, 1, 1])
        eager = train_step(build(False, torch.float32, arch=arch), x)
        compiled = train_step(
            build(True, torch.float32, arch=arch, compile=True), x)
        graphs = dict(counters['stats'])
        breaks = dict(counters['graph_break'])
    finally:
        torch._dynamo.reset()
    # One graph, the checkpointed blocks inside it (no graph break).
    assert graphs['unique_graphs'] == 1 and breaks == {}, (graphs, breaks)
    for a, b in zip(eager[0], compiled[0]):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    assert eager[1].keys() == compiled[1].keys()
    for name, grad in eager[1].items():
        scale = grad.abs().max().item() + 1e-12
        torch.testing.assert_close(compiled[1][name] / scale, grad / scale,
                                   rtol=0, atol=1e-4, msg=name)


# --------------------------------------------------------------------- DDP
def _ddp_worker(rank, world_size, init_file, result_file):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=world_size)
    try:
        x = images(seed=10 + rank)  # each rank its own batch
        runs = []
        for with_cp in (False, True):
            model = DistributedDataParallel(
                build(with_cp, drop_path_rate=0.3, norm_eval=True))
            runs.append(train_step(model, x, seed=20 + rank))
        # Without DDP: this rank's own gradients.
        local = train_step(build(True, drop_path_rate=0.3, norm_eval=True),
                           x, seed=20 + rank)
        # Every rank's with_cp gradients, for rank 0's file.
        gathered = [None] * world_size
        dist.all_gather_object(gathered, runs[1][1])
        if rank == 0:
            torch.save(dict(runs=runs, local=local, gathered=gathered),
                       result_file)
    finally:
        dist.destroy_process_group()


def test_ddp_two_gloo_processes(tmp_path):
    """DistributedDataParallel over gloo: with_cp gives the averaged
    gradients of the plain model on every rank."""
    result_file = tmp_path / 'result.pt'
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / 'init'), str(result_file)),
             nprocs=2, join=True)
    result = torch.load(result_file, weights_only=False)
    assert_identical(*result['runs'])
    rank0, rank1 = result['gathered']
    for name, grad in rank0.items():
        assert torch.equal(grad, rank1[name]), name  # synchronised
    # ...and really averaged: not rank 0's own gradients.
    local = result['local'][1]
    assert local.keys() == {name[len('module.'):] for name in rank0}
    assert any(not torch.allclose(local[name], rank0['module.' + name])
               for name in local)


# ---------------------------------------------------------------- benchmark
def test_benchmark_tool_measures_both_settings():
    """tools/benchmark_with_cp.py at a small size: both settings in their
    own processes, the same loss, less memory added with checkpointing."""
    result = subprocess.run(
        [sys.executable, 'tools/benchmark_with_cp.py', '--shape', '256',
         '384', '--steps', '1', '--warmup', '0', '--threads', '1'],
        cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    header = out.splitlines()[0]
    assert 'batch 2 at 256x384' in header and '1 threads' in header
    assert f'torch {torch.__version__}' in header and 'family' in header
    rows = re.findall(r'^\| (False|True) \| ([\d.]+) \| [\d. ]+ \| ([\d.]+) '
                      r'\| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$', out, re.M)
    assert [row[0] for row in rows] == ['False', 'True']
    assert rows[0][5] == rows[1][5]  # the same loss
    added = [float(row[4]) for row in rows]
    assert 0 < added[1] < 0.7 * added[0], out

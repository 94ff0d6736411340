"""Throughput of whole models on the CPU: GroupMamba against timm peers.

Every model runs on the same random batch after warm-up, eager or compiled
with ``torch.compile`` (the warm-up then includes the compilation). With the
'cpu_compiled' scan on torch >= 2.4 each scan stays one call of the
``mmgroupmamba::directional_scan`` operator in the compiled graph (see
``mmgroupmamba/ops/custom_op.py``). Random weights: speed does not depend on
their values.
"""
import statistics

import torch

from ..model_zoo import MIM_ROOT
from .machine import describe
from .timing import wall_times

#: GroupMamba model names and their ImageNet configs (in ``.mim/configs``).
GROUPMAMBA_CONFIGS = {
    'groupmamba_tiny': 'groupmamba_t_in1k.py',
    'groupmamba_small': 'groupmamba_s_in1k.py',
    'groupmamba_base': 'groupmamba_b_in1k.py',
}


def build(name, scan_backend):
    """A classifier returning logits: a GroupMamba model by its name in
    ``GROUPMAMBA_CONFIGS`` (with ``scan_backend``), else a timm model.

    Args:
        name (str): Model name.
        scan_backend (str): The GroupMamba backbone's and neck's scan
            backend.

    Returns:
        torch.nn.Module: ``model(images) -> logits``.
    """
    if name not in GROUPMAMBA_CONFIGS:
        import timm
        return timm.create_model(name, pretrained=False)
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    from ..wrappers import ClassifierLogits
    cfg = Config.fromfile(MIM_ROOT / 'configs' / GROUPMAMBA_CONFIGS[name])
    cfg.model.backbone.scan_backend = scan_backend
    cfg.model.neck.scan_backend = scan_backend
    return ClassifierLogits(MODELS.build(cfg.model))


def inference_step(model):
    """``step(batch)``: one forward in eval mode under inference mode."""
    model.eval()

    def step(batch):
        with torch.inference_mode():
            model(batch)

    return step


def training_step(model, num_classes=1000):
    """``step(batch)``: one training step (train mode, forward,
    cross-entropy on random labels, backward, AdamW step)."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    labels = torch.randint(num_classes, (1, ))

    def step(batch):
        optimizer.zero_grad(set_to_none=True)
        logits = model(batch)
        loss = torch.nn.functional.cross_entropy(
            logits, labels.expand(len(batch)))
        loss.backward()
        optimizer.step()

    return step


def measure(names, batch_size=8, size=224, warmup=2, repeats=10, train=False,
            scan_backend='auto', compiled=False):
    """Time each model on one random batch.

    Args:
        names (list[str]): Models (see :func:`build`).
        batch_size (int): Images per batch. Defaults to 8.
        size (int): Image side in pixels. Defaults to 224.
        warmup (int): Untimed steps first (the compilation included with
            ``compiled``). Defaults to 2.
        repeats (int): Timed steps. Defaults to 10.
        train (bool): Time training steps, not inference. Defaults to False.
        scan_backend (str): GroupMamba's scan backend. Defaults to 'auto'.
        compiled (bool): ``torch.compile`` each model (default inductor
            settings). Defaults to False.

    Returns:
        list[tuple]: (name, median s, min s, max s, images/s) per model.

    Raises:
        ValueError: ``compiled`` without warm-up, which would time the
            compilation.
    """
    if compiled and warmup < 1:
        raise ValueError('compiled models need warmup >= 1: the first step '
                         'compiles the model and must not be timed')
    torch.manual_seed(0)
    batch = torch.randn(batch_size, 3, size, size)
    rows = []
    for name in names:
        model = build(name, scan_backend)
        if compiled:
            model = torch.compile(model)
        step = training_step(model) if train else inference_step(model)
        times = wall_times(lambda: step(batch), repeats, warmup)
        median = statistics.median(times)
        rows.append((name, median, min(times), max(times),
                     batch_size / median))
    return rows


def format_table(rows, batch_size, size, warmup, repeats, train, compiled):
    """The measured rows as a markdown table under two header lines (the
    machine, :func:`.machine.describe`; the mode); the last column is each
    rate over the first row's."""
    base = rows[0][4]
    mode = 'training step (fwd + bwd + AdamW)' if train else 'inference'
    how = 'torch.compile' if compiled else 'eager'
    lines = [
        f'{describe()}', f'{mode}, {how}, batch {batch_size} at {size}px, '
        f'{warmup} warm-up + {repeats} timed runs', '',
        f'| model | median ms | min-max ms | img/s | vs {rows[0][0]} |',
        '|---|---|---|---|---|'
    ]
    for name, median, low, high, rate in rows:
        lines.append(f'| {name} | {median * 1e3:.1f} | {low * 1e3:.1f}-'
                     f'{high * 1e3:.1f} | {rate:.1f} | {rate / base:.2f}x |')
    return '\n'.join(lines)

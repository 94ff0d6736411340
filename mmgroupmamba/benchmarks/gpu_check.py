"""The GPU acceptance check: Triton kernels and models on CUDA, one command.

``tools/gpu_check.py`` is the command line; :func:`run_check` does the work
and writes every figure to a JSON file after each row, so a run cut short
still leaves what it measured. Three sections:

* ``correct``: the ``triton`` backend against the float64 ``reference``
  (forward and the gradients of every input, four directions, the T/S/B
  stage widths, odd grids), in float32 and with float16 / bfloat16 inputs
  under autocast (the scan stays float32); the GroupMamba-T backbone,
  forward and backward, with ``triton`` against the plain-PyTorch ``cpu``
  backend on the same device (TF32 off); a few float16 AMP training steps
  of the classifier (finite loss); float16 autocast of T/S/B (finite
  forward and backward, logits against float32).
* ``scan speed``: every scan backend at GroupMamba-T's stage shapes,
  forward and forward + backward, in ms and GB/s of the bytes the scan must
  move, against the device-to-device copy bandwidth measured in the run.
* ``model speed``: classifier images/s, inference and a training step,
  float32 and bfloat16 autocast (contiguous and channels_last), GroupMamba
  T/S/B beside timm's convnext_tiny, swin_tiny and resnet50, and the peak
  training memory per image.

``smoke=True`` runs the same code on tiny shapes on whatever device is
given (a CPU, with ``TRITON_INTERPRET=1`` for the kernels): the test suite
runs it so that the check keeps working between GPU runs. Rows that need
CUDA are ``skipped`` with the reason.

A row is a dict with ``section``, ``name``, ``status`` ('pass', 'fail',
'measured', 'skipped' or 'error') and its figures; an exception in one row
is recorded in that row (``error``: the traceback) and the next row runs,
so one broken kernel does not cost the rest of a rare GPU run; the command
exits non-zero when any row failed or raised.
"""
import contextlib
import copy
import json
import math
import platform
import time
import traceback

import torch
from torch import nn

from mmgroupmamba.models import ClassBlockNeck, GroupMamba, set_scan_backend
from mmgroupmamba.ops import available_backends, directional_scan_fn

from .scan import (GRIDS, STAGES, directional_step, layer_views, make_inputs,
                   scan_bytes)
from .timing import copy_bandwidth_gbs, device_median_ms

ARCHS = ('tiny', 'small', 'base')
PEERS = ('convnext_tiny', 'swin_tiny_patch4_window7_224', 'resnet50')
SCAN_BACKENDS = ('triton', 'cpu', 'segsum', 'cuda')
HALF = {'fp16': torch.float16, 'bf16': torch.bfloat16}

#: Tolerances, as max |x - ref| / max(1, max |ref|): the scan in float32
#: against float64 (as tests/test_triton_scan.py), and the whole backbone
#: with two float32 scans (the error of one grows through 19 blocks).
SCAN_TOL = dict(out=2e-5, grad=1e-4)
BACKBONE_TOL = dict(out=1e-4, grad=1e-3)


def _stage_widths():
    """Every stage width of T, S and B, sorted."""
    return sorted({w for arch in ARCHS
                   for w in GroupMamba.arch_settings[arch]['embed_dims']})


def settings(smoke):
    """Shapes and repetitions of a full run (a GPU, under 4 minutes on an
    H200) or of a smoke run (tiny shapes, a CPU, interpreted kernels)."""
    if smoke:
        return dict(
            scan_cases=[((1, 1), 64), ((5, 3), 64), ((2, 3), 348)],
            half_cases=[((5, 3), 64)], scan_batch=2,
            backbone=dict(batch=1, size=32), amp=dict(batch=2, size=32,
                                                      steps=2),
            half_models=dict(batch=1, size=32), bench_batch=2,
            bench_shapes=[(16, (4, 4)), (24, (2, 3))], image_size=64,
            repeats=1, warmup=1, copy_megabytes=8)
    widths = _stage_widths()
    odd = [((5, 3), w) for w in widths] + [((7, 9), w) for w in widths]
    return dict(
        scan_cases=[((1, 1), 64), ((1, 1), 348)] + odd + [((56, 56), 64),
                                                           ((56, 56), 96)],
        half_cases=[((1, 1), 64), ((5, 3), 348), ((7, 9), 512),
                    ((56, 56), 64)], scan_batch=2,
        backbone=dict(batch=2, size=224), amp=dict(batch=16, size=224,
                                                   steps=3),
        half_models=dict(batch=4, size=224), bench_batch=128,
        bench_shapes=list(zip((c for c, _ in STAGES), GRIDS)),
        image_size=224, repeats=10, warmup=3, copy_megabytes=1024)


def relative_error(value, reference):
    """max |value - reference| / max(1, max |reference|), in float64."""
    value, reference = value.double(), reference.double()
    scale = max(1.0, reference.abs().max().item())
    return (value - reference).abs().max().item() / scale


@contextlib.contextmanager
def no_tf32():
    """Full float32 matmuls and convolutions (TF32 keeps 10 bits)."""
    saved = (torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32) = saved


def _autocast(device, precision):
    """torch.autocast for 'fp16' / 'bf16', nothing for 'fp32'."""
    if precision == 'fp32':
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=HALF[precision])


class PlainClassifier(nn.Module):
    """The GroupMamba ImageNet classifier without mmpretrain: backbone,
    class-block neck and the dual linear head (two Linear layers whose
    logits are averaged, as ``DualLinearClsHead`` does in eval mode; here
    in training mode too). The GPU machines have no mmpretrain; the layers
    and their cost are those of the configs' classifier.

    Args:
        arch (str): 'tiny', 'small' or 'base'.
        scan_backend (str): Selective-scan backend. Defaults to 'auto'.
        num_classes (int): Defaults to 1000.

    Shapes:
        input (B, 3, H, W); output (B, num_classes).
    """

    def __init__(self, arch, scan_backend='auto', num_classes=1000):
        super().__init__()
        self.backbone = GroupMamba(arch=arch, scan_backend=scan_backend)
        width = self.backbone.embed_dims[-1]
        self.neck = ClassBlockNeck(width, scan_backend=scan_backend)
        self.fc = nn.Linear(width, num_classes)
        self.dist_fc = nn.Linear(width, num_classes)

    def forward(self, images):
        feature = self.neck(self.backbone(images))[0]
        return (self.fc(feature) + self.dist_fc(feature)) / 2


# ---------------------------------------------------------------- correct


def _scan_grads(leaves, height, width, backend, device, precision):
    """Output and the gradients of every input of one layer scan, for a
    fixed random projection of the output."""
    with _autocast(device, precision):
        out = directional_scan_fn(
            *(layer_views(leaves)[k] for k in ('u', 'delta', 'A', 'B', 'C')),
            D=leaves['D'], delta_bias=leaves['delta_bias'],
            delta_softplus=True, height=height, width=width, backend=backend)
    gen = torch.Generator().manual_seed(1)
    weight = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    names = list(leaves)
    grads = torch.autograd.grad((out * weight.to(out)).sum(),
                                [leaves[k] for k in names])
    return out.detach(), dict(zip(names, grads))


def scan_case(device, batch, height, width, channels, precision):
    """The triton backend against the float64 reference, one shape.

    ``precision`` 'fp32': float32 inputs. 'fp16' / 'bf16': u, delta, B, C
    in that dtype (as linear layers under autocast give them), the scan
    called under autocast; it must still compute and return float32, and
    the reference gets the same rounded values in float64.
    """
    flat = make_inputs(batch, channels, height * width)
    leaves = {}
    for name, tensor in flat.items():
        dtype = (HALF[precision] if precision != 'fp32'
                 and name in ('u', 'delta', 'B', 'C') else torch.float32)
        leaves[name] = tensor.detach().to(device, dtype).requires_grad_()
    out, grads = _scan_grads(leaves, height, width, 'triton', device,
                             precision)
    wide = {k: v.detach().double().requires_grad_()
            for k, v in leaves.items()}
    ref_out, ref_grads = _scan_grads(wide, height, width, 'reference',
                                     device, 'fp32')
    errors = {'out': relative_error(out, ref_out)}
    errors.update({f'grad {k}': relative_error(g, ref_grads[k])
                   for k, g in grads.items()})
    # Gradients of half inputs are rounded to their dtype on the way out.
    half_eps = (torch.finfo(HALF[precision]).eps
                if precision != 'fp32' else 0.0)
    tolerances = {k: SCAN_TOL['out'] if k == 'out' else max(
        SCAN_TOL['grad'], half_eps if leaves[k[5:]].dtype != torch.float32
        else 0.0) for k in errors}
    ok = out.dtype == torch.float32 and all(
        errors[k] <= tolerances[k] for k in errors) and all(
            grads[k].dtype == leaves[k].dtype for k in grads)
    return dict(status='pass' if ok else 'fail', out_dtype=str(out.dtype),
                errors=errors, tolerances=tolerances,
                max_error=max(errors.values()))


def backbone_case(device, batch, size):
    """GroupMamba-T forward and backward, triton against cpu, float32."""
    torch.manual_seed(0)
    model = GroupMamba(arch='tiny', out_indices=(0, 1, 2, 3),
                       scan_backend='triton').to(device)
    twin = copy.deepcopy(model)
    set_scan_backend(twin, 'cpu')
    images = torch.randn(batch, 3, size, size,
                         generator=torch.Generator().manual_seed(2))
    results = []
    with no_tf32():
        for net in (model, twin):
            maps = net(images.to(device))
            loss = sum((m * m).mean() for m in maps)
            loss.backward()
            results.append(([m.detach() for m in maps], {
                name: p.grad for name, p in net.named_parameters()}))
    (maps, grads), (ref_maps, ref_grads) = results
    out_error = max(relative_error(m, r) for m, r in zip(maps, ref_maps))
    grad_errors = {k: relative_error(g, ref_grads[k])
                   for k, g in grads.items()}
    worst = max(grad_errors, key=grad_errors.get)
    ok = (out_error <= BACKBONE_TOL['out']
          and grad_errors[worst] <= BACKBONE_TOL['grad'])
    return dict(status='pass' if ok else 'fail', out_error=out_error,
                grad_error=grad_errors[worst], worst_grad=worst,
                parameters=len(grad_errors), tolerances=BACKBONE_TOL)


def amp_training_case(device, batch, size, steps):
    """float16 AMP training steps of GroupMamba-T (autocast, GradScaler,
    AdamW): every loss finite."""
    torch.manual_seed(0)
    model = PlainClassifier('tiny').to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(torch.device(device).type)
    images = torch.randn(batch, 3, size, size, device=device)
    labels = torch.randint(1000, (batch, ), device=device)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, 'fp16'):
            loss = nn.functional.cross_entropy(model(images), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.item())
    ok = all(math.isfinite(x) for x in losses)
    return dict(status='pass' if ok else 'fail', losses=losses,
                scale=scaler.get_scale())


def half_model_case(device, arch, batch, size):
    """float16 autocast of a classifier: logits (eval) against float32,
    and a training forward + backward with finite gradients."""
    torch.manual_seed(0)
    model = PlainClassifier(arch).to(device).eval()
    images = torch.randn(batch, 3, size, size,
                         generator=torch.Generator().manual_seed(1))
    images = images.to(device)
    with torch.no_grad(), no_tf32():
        reference = model(images)
        with _autocast(device, 'fp16'):
            logits = model(images)
    relative_l2 = ((logits.float() - reference).norm() /
                   reference.norm()).item()
    model.train()
    with _autocast(device, 'fp16'):
        loss = model(images).float().logsumexp(1).mean()
    loss.backward()
    grads_finite = all(torch.isfinite(p.grad).all().item()
                       for p in model.parameters() if p.grad is not None)
    ok = (logits.dtype == torch.float16 and torch.isfinite(logits).all()
          and grads_finite and math.isfinite(loss.item()))
    return dict(status='pass' if ok else 'fail', logits_dtype=str(
        logits.dtype), relative_l2_vs_fp32=relative_l2,
                grads_finite=grads_finite)


def correctness_jobs(device, cfg):
    """(name, function) pairs of the correct section."""
    jobs = []
    batch = cfg['scan_batch']
    cases = [(p, g, w) for g, w in cfg['scan_cases'] for p in ('fp32', )]
    cases += [(p, g, w) for g, w in cfg['half_cases'] for p in HALF]
    for precision, (height, width), channels in cases:
        jobs.append((
            f'scan triton vs reference, {precision}, {height}x{width}, '
            f'd={channels}',
            lambda h=height, w=width, c=channels, p=precision: scan_case(
                device, batch, h, w, c, p)))
    jobs.append(('GroupMamba-T backbone fwd+bwd, triton vs cpu, fp32',
                 lambda: backbone_case(device, **cfg['backbone'])))
    jobs.append(('GroupMamba-T fp16 AMP training steps',
                 lambda: amp_training_case(device, **cfg['amp'])))
    for arch in ARCHS:
        jobs.append((f'GroupMamba-{arch[0].upper()} fp16 autocast',
                     lambda a=arch: half_model_case(device, a,
                                                    **cfg['half_models'])))
    return jobs


# ------------------------------------------------------------------ speed


def scan_speed_case(device, backend, channels, grid, batch, copy_gbs, cfg):
    """One backend at one stage shape: fwd and fwd + bwd ms and GB/s."""
    height, width = grid
    status = available_backends(device)[backend]
    if not status.available:
        return dict(status='skipped', reason=status.reason)
    flat = make_inputs(batch, channels, height * width)
    leaves = {k: v.detach().to(device).requires_grad_()
              for k, v in flat.items()}
    views = layer_views(leaves)
    row = dict(status='measured', copy_gbs=copy_gbs)
    for label, backward in (('fwd', False), ('fwd_bwd', True)):
        ms = device_median_ms(
            directional_step(leaves, views, height, width, backend,
                             backward), device, cfg['repeats'], cfg['warmup'])
        gbs = scan_bytes(batch, channels, height * width, backward) / ms / 1e6
        row.update({f'{label}_ms': ms, f'{label}_gbs': gbs,
                    f'{label}_of_copy': gbs / copy_gbs})
    return row


def _training_step(model, device, batch):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    labels = torch.randint(1000, (batch, ), device=device)

    def step(images):
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()

    return step


def _inference_step(model):

    def step(images):
        with torch.inference_mode():
            model(images)

    return step


def build_model(name, image_size):
    """A GroupMamba classifier ('groupmamba_tiny', ...) or a timm model."""
    if name.startswith('groupmamba_'):
        return PlainClassifier(name.split('_')[1])
    import timm
    extra = dict(img_size=image_size) if name.startswith('swin') else {}
    return timm.create_model(name, pretrained=False, **extra)


def model_speed_case(device, name, mode, precision, channels_last, cfg):
    """images/s of one model, mode 'inference' or 'training'; on CUDA also
    the peak memory of a training step per image."""
    batch, size = cfg['bench_batch'], cfg['image_size']
    torch.manual_seed(0)
    model = build_model(name, size).to(device)
    images = torch.randn(batch, 3, size, size, device=device)
    if channels_last:  # the 2-D convolutions' weights and the images
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                module.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    if mode == 'training':
        step = _training_step(model.train(), device, batch)
    else:
        step = _inference_step(model.eval())
    cuda = torch.device(device).type == 'cuda'
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)

    def run():
        with _autocast(device, precision):
            step(images)

    ms = device_median_ms(run, device, cfg['repeats'], cfg['warmup'])
    row = dict(status='measured', batch=batch, ms=ms,
               images_per_s=batch / ms * 1e3)
    if cuda:
        row['peak_mb_per_image'] = (torch.cuda.max_memory_allocated(device) /
                                    batch / 2**20)
    else:
        row['peak_mb_per_image'] = None
        row['peak_memory'] = 'skipped: CUDA only'
    del model, step
    return row


def speed_jobs(device, cfg, report):
    """(name, function) pairs of the two speed sections."""
    jobs = []

    def copy_job():
        gbs = copy_bandwidth_gbs(device, cfg['copy_megabytes'],
                                 cfg['repeats'], cfg['warmup'])
        report['copy_gbs'] = gbs
        return dict(status='measured', gbs=gbs,
                    megabytes=cfg['copy_megabytes'])

    jobs.append(('scan speed', 'device-to-device copy', copy_job))
    for channels, grid in cfg['bench_shapes']:
        for backend in SCAN_BACKENDS:
            jobs.append((
                'scan speed', f'{backend}, d={channels}, '
                f'{grid[0]}x{grid[1]}, b={cfg["bench_batch"]}',
                lambda b=backend, c=channels, g=grid: scan_speed_case(
                    device, b, c, g, cfg['bench_batch'], report['copy_gbs'],
                    cfg)))
    names = [f'groupmamba_{a}' for a in ARCHS] + list(PEERS)
    variants = [('inference', 'fp32', False), ('inference', 'bf16', False),
                ('inference', 'bf16', True), ('training', 'fp32', False),
                ('training', 'bf16', False), ('training', 'bf16', True)]
    for name in names:
        for mode, precision, channels_last in variants:
            layout = 'channels_last' if channels_last else 'contiguous'
            jobs.append((
                'model speed', f'{name} {mode} {precision} {layout}',
                lambda n=name, m=mode, p=precision, c=channels_last:
                dict(model_speed_case(device, n, m, p, c, cfg), model=n,
                     mode=m, precision=p, channels_last=c)))
    return jobs


# ------------------------------------------------------------ the report


def environment(device, smoke):
    """Versions and the device, for the report."""
    import numpy
    import triton
    env = dict(python=platform.python_version(), torch=torch.__version__,
               triton=triton.__version__, numpy=numpy.__version__,
               device=str(device), smoke=smoke,
               triton_interpreted=(torch.device(device).type != 'cuda'))
    if torch.device(device).type == 'cuda':
        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, capability=f'{props.major}.{props.minor}',
                   gpu_memory_gb=props.total_memory / 1e9,
                   cuda=torch.version.cuda)
    env['scan_backends'] = {k: v.reason for k, v in
                            available_backends(device).items()}
    return env


def _best(rows, model, mode, precision):
    """The faster layout's row of a model / mode / precision."""
    found = [r for r in rows if r.get('model') == model and r['mode'] == mode
             and r['precision'] == precision and r['status'] == 'measured']
    return max(found, key=lambda r: r['images_per_s']) if found else None


def goals(report):
    """The issue's goals, from the measured rows (None: not measured)."""
    rows = report['rows']
    on_gpu = not report['environment']['smoke']
    triton = [r for r in rows if r['section'] == 'scan speed'
              and r['name'].startswith('triton,') and r['status'] ==
              'measured']
    result = []
    if triton:
        worst = min(r['fwd_bwd_of_copy'] for r in triton)
        result.append(dict(goal='triton fwd+bwd >= 70% of copy bandwidth '
                           '(worst stage)', value=worst,
                           met=worst >= 0.7 if on_gpu else None))
    speed = [r for r in rows if r['section'] == 'model speed']
    for mode, target in (('inference', 1.0), ('training', 0.8)):
        ours = _best(speed, 'groupmamba_tiny', mode, 'bf16')
        peer = _best(speed, 'convnext_tiny', mode, 'bf16')
        if ours and peer:
            ratio = ours['images_per_s'] / peer['images_per_s']
            result.append(dict(
                goal=f'GroupMamba-T {mode} img/s >= {target}x convnext_tiny '
                '(bf16, best layout)', value=ratio,
                met=ratio >= target if on_gpu else None))
    if not on_gpu:
        for goal in result:
            goal['note'] = 'smoke run: the goals are for a GPU'
    return result


def run_check(out_path, smoke=False, device=None, log=print):
    """Run every row, writing the JSON report after each one.

    Args:
        out_path (str | Path): Where the JSON goes.
        smoke (bool): Tiny shapes (a CPU with ``TRITON_INTERPRET=1``).
            Defaults to False.
        device (str | None): Defaults to 'cuda' if available, else 'cpu'.
        log (callable): Receives one line per row. Defaults to print.

    Returns:
        dict: The report: ``environment``, ``rows``, ``goals``,
        ``seconds``, ``ok`` (no row failed or raised).
    """
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    cfg = settings(smoke)
    report = dict(environment=environment(device, smoke), rows=[], goals=[],
                  copy_gbs=None)
    start = time.perf_counter()

    def write():
        report['seconds'] = time.perf_counter() - start
        report['ok'] = all(r['status'] not in ('fail', 'error')
                           for r in report['rows'])
        with open(out_path, 'w') as file:
            json.dump(report, file, indent=1)

    jobs = [('correct', name, fn) for name, fn in correctness_jobs(
        device, cfg)] + speed_jobs(device, cfg, report)
    for section, name, fn in jobs:
        began = time.perf_counter()
        try:
            row = fn()
        except Exception:  # recorded in the report, the run goes on
            row = dict(status='error', error=traceback.format_exc())
        row = dict(section=section, name=name, **row,
                   seconds=time.perf_counter() - began)
        report['rows'].append(row)
        write()
        log(format_row(row))
    report['goals'] = goals(report)
    write()
    return report


def _figures(row):
    """The row's headline figures as text."""
    if row['status'] == 'skipped':
        return f'skipped: {row["reason"]}'
    if row['status'] == 'error':
        return 'error: ' + row['error'].strip().splitlines()[-1]
    if 'max_error' in row:
        return f'max error {row["max_error"]:.2e}'
    if 'grad_error' in row:
        return (f'out error {row["out_error"]:.2e}, grad error '
                f'{row["grad_error"]:.2e} ({row["worst_grad"]})')
    if 'losses' in row:
        return 'losses ' + ', '.join(f'{x:.4f}' for x in row['losses'])
    if 'relative_l2_vs_fp32' in row:
        return f'logits rel. L2 vs fp32 {row["relative_l2_vs_fp32"]:.2e}'
    if 'fwd_ms' in row:
        return (f'fwd {row["fwd_ms"]:.3f} ms {row["fwd_gbs"]:.0f} GB/s '
                f'({row["fwd_of_copy"]:.0%} of copy), f+b '
                f'{row["fwd_bwd_ms"]:.3f} ms {row["fwd_bwd_gbs"]:.0f} GB/s '
                f'({row["fwd_bwd_of_copy"]:.0%})')
    if 'images_per_s' in row:
        memory = row['peak_mb_per_image']
        memory = '' if memory is None else f', {memory:.1f} MB/img peak'
        return f'{row["images_per_s"]:.1f} img/s ({row["ms"]:.1f} ms){memory}'
    if 'gbs' in row:
        return f'{row["gbs"]:.0f} GB/s'
    return ''


def format_row(row):
    """One line: status, section, name, figures, seconds."""
    return (f'{row["status"]:8} [{row["section"]}] {row["name"]}: '
            f'{_figures(row)} ({row["seconds"]:.1f} s)')


def format_report(report):
    """The report as a markdown table, then the goals."""
    env = report['environment']
    lines = [f'GPU check: {env.get("gpu", env["device"])}, torch '
             f'{env["torch"]}, Triton {env["triton"]}, Python '
             f'{env["python"]}{", smoke" if env["smoke"] else ""}; '
             f'{report["seconds"]:.0f} s', '',
             '| section | check | status | figures | s |', '|---|---|---|---|---|']
    for row in report['rows']:
        lines.append(f'| {row["section"]} | {row["name"]} | {row["status"]} '
                     f'| {_figures(row)} | {row["seconds"]:.1f} |')
    lines += ['', '| goal | value | met |', '|---|---|---|']
    for goal in report['goals']:
        met = {True: 'yes', False: 'no', None: goal.get('note', '-')}
        lines.append(f'| {goal["goal"]} | {goal["value"]:.2f} | '
                     f'{met[goal["met"]]} |')
    return '\n'.join(lines)

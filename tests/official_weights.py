"""Seeded stand-ins for the official GroupMamba checkpoints (test fixture).

The golden outputs in ``tests/data/golden_tiny_seed0.pt`` were computed by
the official code with synthetic weights that are fully determined by the
official state-dict listing (``tests/data/official_state_dict_<arch>.txt``:
one ``<key> (<shape>)`` line per entry, in the official module order) and a
seed. This module draws the same weights again, so the suite needs no file
beside the repository: ``make_official_state_dict('tiny', 0)`` reproduces
the golden case's weights, which ``state_dict_digest`` proves against the
sha256 stored with the golden outputs.

The drawing rules (one ``torch.Generator`` seeded once, entries in listing
order, float32):

=========================  ==============================================
entry                      value
=========================  ==============================================
``num_batches_tracked``    0 (int64; draws nothing)
``running_mean``           0.1 N(0, 1)
``running_var``            0.5 + U(0, 1)
``A_logs``                 log(0.5 + 1.5 U(0, 1))
``Ds``, ``skip_scale``     1 + 0.1 N(0, 1)
``dt_projs_bias``          softplus^-1(dt), dt log-uniform in [1e-3, 1e-1]
``x_proj_weight``,         N(0, 1) / sqrt(last dim)
``dt_projs_weight``
1-D ``weight`` (norms)     1 + 0.1 N(0, 1)
n-D ``weight``             N(0, 1) / sqrt(product of all dims but the first)
``bias``                   0.05 N(0, 1)
=========================  ==============================================

So no LayerNorm is an identity, no bias is zero and A is not constant:
every parameter moves the output.

The bits depend on the CPU unless MKL is told otherwise: torch computes the
log/exp/expm1 of float32 tensors with MKL's vector math, which picks its code
path by CPU (AVX-512 on a recent Intel Xeon, its compatible path on AMD), and
the paths differ in the last bit. On the Intel Xeon this suite last ran on,
that moved the float64 logits by 5e-8 (relative) from the golden ones, and
the weights' digest. ``MKL_CBWR=COMPATIBLE`` selects the same path on every
x86 CPU (the one the golden weights were drawn with); MKL reads it when it
starts, so :func:`save_official_state_dict` draws in a fresh process.
"""
import hashlib
import math
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parent / 'data'
LOG_DT_MIN, LOG_DT_MAX = math.log(1e-3), math.log(1e-1)


def listing_path(arch):
    """The official key/shape listing of ``arch`` ('tiny'|'small'|'base')."""
    path = DATA / f'official_state_dict_{arch}.txt'
    if not path.is_file():
        raise FileNotFoundError(f'no official listing for arch {arch!r}: '
                                f'{path} is missing')
    return path


def read_listing(path):
    """``[(key, shape), ...]`` from '<key> (d0, d1, ...)' lines."""
    entries = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        key, shape = line.split(' ', 1)
        shape = shape.strip()
        if not (shape.startswith('(') and shape.endswith(')')):
            raise ValueError(f'{path}:{number}: shape {shape!r} is not a tuple')
        entries.append(
            (key, tuple(int(d) for d in shape[1:-1].split(',') if d.strip())))
    return entries


def _draw(key, shape, generator):
    name = key.rsplit('.', 1)[-1]

    def normal():
        return torch.randn(shape, generator=generator, dtype=torch.float32)

    def uniform():
        return torch.rand(shape, generator=generator, dtype=torch.float32)

    if name == 'num_batches_tracked':
        return torch.zeros(shape, dtype=torch.int64)
    if name == 'running_mean':
        return 0.1 * normal()
    if name == 'running_var':
        return 0.5 + uniform()
    if name == 'A_logs':
        return torch.log(0.5 + 1.5 * uniform())
    if name in ('Ds', 'skip_scale'):
        return 1.0 + 0.1 * normal()
    if name == 'dt_projs_bias':
        dt = torch.exp(uniform() * (LOG_DT_MAX - LOG_DT_MIN) + LOG_DT_MIN)
        return dt + torch.log(-torch.expm1(-dt))  # softplus^-1
    if name in ('x_proj_weight', 'dt_projs_weight'):
        return normal() / math.sqrt(shape[-1])
    if name == 'weight':
        if len(shape) == 1:
            return 1.0 + 0.1 * normal()
        return normal() / math.sqrt(math.prod(shape[1:]))
    if name == 'bias':
        return 0.05 * normal()
    raise ValueError(f'no drawing rule for {key!r} {shape}')


def make_official_state_dict(arch, seed):
    """Seeded weights in the official layout of GroupMamba-``arch``.

    Args:
        arch (str): 'tiny', 'small' or 'base'.
        seed (int): The generator's seed.

    Returns:
        OrderedDict[str, torch.Tensor]: Official keys and shapes, in listing
        order (the bare ``state_dict`` the official release stores).
    """
    generator = torch.Generator().manual_seed(int(seed))
    state_dict = OrderedDict()
    for key, shape in read_listing(listing_path(arch)):
        if key in state_dict:
            raise ValueError(f'{key!r} is listed twice')
        state_dict[key] = _draw(key, shape, generator)
    return state_dict


def state_dict_digest(state_dict):
    """sha256 of the keys, dtypes, shapes and bytes, in dict order (the
    digest stored with the golden outputs)."""
    digest = hashlib.sha256()
    for key, value in state_dict.items():
        tensor = value.detach().cpu().contiguous()
        digest.update(
            f'{key}|{tensor.dtype}|{tuple(tensor.shape)}\n'.encode())
        if tensor.numel():
            digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


#: The environment that makes MKL's vector math the same on every x86 CPU.
MKL_REPRODUCIBLE = {'MKL_CBWR': 'COMPATIBLE'}


def save_official_state_dict(arch, seed, path):
    """Draw :func:`make_official_state_dict` in a fresh process with MKL's
    CPU-independent path (see the module docstring) and ``torch.save`` it
    as the official release stores weights (a bare state_dict).

    Args:
        arch (str): 'tiny', 'small' or 'base'.
        seed (int): The generator's seed.
        path (str | Path): The file to write.
    """
    subprocess.run(
        [sys.executable, __file__, arch, str(int(seed)), str(path)],
        env=dict(os.environ, **MKL_REPRODUCIBLE), check=True)


if __name__ == '__main__':
    torch.save(make_official_state_dict(sys.argv[1], int(sys.argv[2])),
               sys.argv[3])

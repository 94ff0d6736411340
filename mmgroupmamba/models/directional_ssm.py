"""The four directional selective-scan token mixers of a GroupMambaLayer.

The official code builds four separate single-direction SS2D modules
(``mamba_g1`` .. ``mamba_g4``), one per contiguous quarter of the channels.
They have identical shapes, so this module keeps their parameters stacked along
a leading group axis of size 4 and runs every step once for all groups: one
batched projection instead of four, one depthwise convolution, and ONE scan
call, :func:`mmgroupmamba.ops.directional_scan_fn`, in which channel group k
scans the token grid in direction k with its own B/C (the backend decides how:
a gather per direction or a kernel that walks the four orders in place).
Group k's parameters are exactly the official ``mamba_g{k+1}`` tensors
(``mmgroupmamba/checkpoint/mapping.py`` stacks/unstacks them).
"""
import math

import torch
from torch import nn

from mmgroupmamba.ops import (available_backends, directional_scan_fn,
                              layer_norm_gated)
# scan_orders is re-exported: the scan directions are the model's, and
# tools/visualize.py draws them from here.
from mmgroupmamba.ops.directions import NUM_DIRECTIONS, scan_orders  # noqa: F401
from .pointwise import depthwise_conv_act, grouped_channel_last_linear


def check_scan_backend(backend):
    """Raise unless ``backend`` is 'auto' or a scan backend that can run on
    some device of this machine (the CPU, and the GPU when there is one).

    A model is built on the CPU and may move to the GPU later, so a backend
    that runs on either passes; a name that runs nowhere here fails now
    instead of at the first forward.

    Args:
        backend (str): The ``scan_backend`` argument.

    Raises:
        ValueError: Unknown name (the message lists the known ones), or a
            known backend that cannot run on this machine (with why).
    """
    statuses = available_backends('cpu')
    known = ['auto'] + sorted(statuses)
    if backend == 'auto':
        return
    if backend not in statuses:
        raise ValueError(f'unknown scan backend {backend!r}; known: {known} '
                         '(names are lower case)')
    reasons = {'cpu': statuses[backend]}
    if torch.cuda.is_available():
        reasons['cuda'] = available_backends('cuda')[backend]
    if not any(status.available for status in reasons.values()):
        why = '; '.join(f'{device}: {status.reason}'
                        for device, status in reasons.items())
        raise ValueError(
            f'scan backend {backend!r} cannot run on this machine ({why}); '
            f"use 'auto' or one of {known}")


def set_scan_backend(model, backend):
    """Switch every selective-scan module of ``model`` to ``backend``.

    Args:
        model (nn.Module): Any model holding GroupMamba parts.
        backend (str): 'auto' or a backend that can run on this machine.

    Returns:
        int: How many scan modules were switched (0: no GroupMamba part).

    Raises:
        ValueError: Unknown or unavailable backend (nothing is switched).
    """
    check_scan_backend(backend)
    switched = 0
    for module in model.modules():
        if isinstance(module, DirectionalSSM):
            module.scan_backend = backend
            switched += 1
    return switched


class DirectionalSSM(nn.Module):
    """Four SS2D-style selective-scan mixers, group k scanning in direction k.

    Per group (width ``g = dim / 4``), on channel-last tokens: ``in_proj``
    (g -> 2g, no bias) split into ``u`` and a gate ``z``; ``u`` -> depthwise 3x3
    conv -> SiLU; the selective scan (d_state ``N``, ``delta = softplus(dt_proj(
    x_proj(u)) + dt_bias)``) along the group's direction; LayerNorm over the
    group (eps 1e-5); times ``SiLU(z)``; ``out_proj`` (g -> g, no bias).

    Args:
        dim (int): Channels C of the layer input; must be divisible by 4.
        d_state (int): SSM state size N. GroupMamba uses 1. Defaults to 1.
        dt_rank (int | None): Rank R of the delta projection. Defaults to
            ``ceil(g / 16)`` as in the official code.
        scan_backend (str): Selective-scan backend for
            :func:`mmgroupmamba.ops.selective_scan_fn`. Defaults to 'auto'.
    """

    def __init__(self, dim, d_state=1, dt_rank=None, scan_backend='auto'):
        super().__init__()
        if dim % NUM_DIRECTIONS:
            raise ValueError(
                f'DirectionalSSM needs dim divisible by {NUM_DIRECTIONS}, '
                f'got {dim}')
        g = dim // NUM_DIRECTIONS
        k = NUM_DIRECTIONS
        self.group_dim = g
        self.d_state = d_state
        self.dt_rank = math.ceil(g / 16) if dt_rank is None else dt_rank
        check_scan_backend(scan_backend)
        self.scan_backend = scan_backend
        r, n = self.dt_rank, d_state

        self.in_proj_weight = nn.Parameter(torch.empty(k, 2 * g, g))
        self.conv_weight = nn.Parameter(torch.empty(k, g, 1, 3, 3))
        self.conv_bias = nn.Parameter(torch.empty(k, g))
        self.x_proj_weight = nn.Parameter(torch.empty(k, r + 2 * n, g))
        self.dt_proj_weight = nn.Parameter(torch.empty(k, g, r))
        self.dt_bias = nn.Parameter(torch.empty(k, g))
        self.A_log = nn.Parameter(torch.empty(k, g, n))
        self.D = nn.Parameter(torch.empty(k, g))
        self.out_norm_weight = nn.Parameter(torch.empty(k, g))
        self.out_norm_bias = nn.Parameter(torch.empty(k, g))
        self.out_proj_weight = nn.Parameter(torch.empty(k, g, g))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, dt_min=1e-3, dt_max=1e-1, dt_floor=1e-4):
        """The official initialisation (SS2D 'v0' plus GroupMamba's overrides)."""
        g, r, n = self.group_dim, self.dt_rank, self.d_state
        # nn.Linear layers of the official code get trunc_normal(std=.02).
        nn.init.trunc_normal_(self.in_proj_weight, std=.02)
        nn.init.trunc_normal_(self.out_proj_weight, std=.02)
        # Conv2d: normal(0, sqrt(2 / fan_out)), fan_out = 3*3*out/groups = 9.
        nn.init.normal_(self.conv_weight, std=math.sqrt(2.0 / 9))
        nn.init.zeros_(self.conv_bias)
        # Raw parameters, never touched by the Linear/Conv rules.
        nn.init.uniform_(self.x_proj_weight, -g**-0.5, g**-0.5)
        nn.init.uniform_(self.dt_proj_weight, -r**-0.5, r**-0.5)
        dt = torch.exp(
            torch.rand_like(self.dt_bias) *
            (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_floor)
        self.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1
        self.A_log.copy_(
            torch.log(torch.arange(1, n + 1, dtype=torch.float32)).expand_as(
                self.A_log))
        nn.init.ones_(self.D)
        nn.init.ones_(self.out_norm_weight)
        nn.init.zeros_(self.out_norm_bias)

    def decay_rates(self, dtype):
        """The scan's ``A = -exp(A_log)`` as (C, N), in ``dtype``.

        The exponential is taken in float32 even for a float64 model, as the
        official code does (``A_logs.to(torch.float)``); in float64 this is
        visible (about 1e-7 of the logits), in float32 it changes nothing.
        """
        return -torch.exp(self.A_log.float()).to(dtype).view(
            -1, self.d_state)

    def no_weight_decay(self):
        """The parameters that take no weight decay although they are 2-D.

        The official ImageNet training exempts every parameter with
        ``ndim <= 1`` or named ``*.bias``. Its per-group ``Ds``,
        ``out_norm`` weight and bias and depthwise ``conv2d.bias`` were 1-D
        per group; stacked over the four groups here, (4, C/4), the ndim
        rule alone would decay them, so they are named. ``dt_bias`` and
        ``A_log`` were 2-D officially and keep their decay.

        Returns:
            set[str]: Parameter names of this module.
        """
        return {'D', 'out_norm_weight', 'out_norm_bias', 'conv_bias'}

    def forward(self, x):
        """Mix tokens of ``x`` (B, H, W, C) -> (B, H, W, C)."""
        b, h, w, c = x.shape
        k, g, r, n = NUM_DIRECTIONS, self.group_dim, self.dt_rank, self.d_state
        length = h * w
        xz = grouped_channel_last_linear(self.in_proj_weight, x)
        u, z = xz.view(b, h, w, k, 2 * g).split(g, dim=-1)

        # The depthwise conv of the four groups is one conv over all channels.
        u = u.reshape(b, h, w, c).permute(0, 3, 1, 2)
        u = depthwise_conv_act(u, self.conv_weight.view(c, 1, 3, 3),
                               self.conv_bias.view(c), 1, 'silu')
        u = u.reshape(b, k, g, length)

        # Projections are per token, in row-major token order.
        x_dbl = torch.einsum('bkcl,kjc->bkjl', u, self.x_proj_weight)
        dts, bs, cs = x_dbl.split([r, n, n], dim=2)
        delta = torch.einsum('bkrl,kcr->bkcl', dts, self.dt_proj_weight)

        # Token-major views of the channel-major tensors (eager: no copies); the
        # backend walks each group's direction itself.
        y = directional_scan_fn(
            u.reshape(b, c, length).transpose(1, 2),
            delta.reshape(b, c, length).transpose(1, 2),
            self.decay_rates(torch.float64 if u.dtype == torch.float64 else
                             torch.float32),
            bs.permute(0, 3, 1, 2),
            cs.permute(0, 3, 1, 2),
            D=self.D.view(c),
            delta_bias=self.dt_bias.view(c),
            delta_softplus=True,
            height=h,
            width=w,
            backend=self.scan_backend)

        # (B, L, 4, g): per-group LayerNorm, gate, projection.
        y = layer_norm_gated(
            y.reshape(b, length, k, g),  # a view for the built-in backends
            self.out_norm_weight, self.out_norm_bias,
            z.reshape(b, length, k, g).to(y.dtype), eps=1e-5)
        return grouped_channel_last_linear(self.out_proj_weight.to(y.dtype),
                                           y.reshape(b, h, w, c))

"""GroupMamba backbone: Stem -> 4 x (Downsample -> Blocks) -> feature maps.

Layout and numbers follow the official code (github Amshaker/GroupMamba
@ c1800ed), which differs from the paper in places; ``docs/official_vs_paper.md``
lists every difference. Inside the stages tokens are channel-last
(B, H, W, C); the backbone returns NCHW maps as OpenMMLab necks expect.
"""
import copy

import torch
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from timm.layers import DropPath
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..checkpoint import load_pretrained_backbone, register_strict_loading
from ..torch_version import CUSTOM_OPS, require_torch
from .directional_ssm import DirectionalSSM, check_scan_backend
from .ffn import ConvFFN
from .group_mamba_layer import GroupMambaLayer
from .init import init_conv


class Stem(nn.Module):
    """Stride-4 stem: 7x7/2 conv, two 3x3/1 convs (each BN + ReLU), a 3x3/2
    projection with bias, then LayerNorm (eps 1e-5).

    Args:
        in_channels (int): Image channels.
        hidden_channels (int): Width of the three BN convs (32 for T, 64 S/B).
        out_channels (int): Stage-1 width C1.
    """

    def __init__(self, in_channels, hidden_channels, out_channels):
        super().__init__()
        layers = []
        for i, kernel in enumerate((7, 3, 3)):
            layers += [
                nn.Conv2d(
                    in_channels if i == 0 else hidden_channels,
                    hidden_channels,
                    kernel,
                    stride=2 if i == 0 else 1,
                    padding=kernel // 2,
                    bias=False),
                nn.BatchNorm2d(hidden_channels),
                nn.ReLU(inplace=True)
            ]
        # Indices 0/1, 3/4, 6/7 hold conv/BN, as in the official state_dict.
        self.conv = nn.Sequential(*layers)
        self.proj = nn.Conv2d(
            hidden_channels, out_channels, 3, stride=2, padding=1)
        self.norm = nn.LayerNorm(out_channels)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init_conv(m)

    def forward(self, x):
        """Image (B, C_in, H, W) -> tokens (B, ~H/4, ~W/4, C1)."""
        return self.norm(self.proj(self.conv(x)).permute(0, 2, 3, 1))


class Downsample(nn.Module):
    """Between stages: LayerNorm (eps 1e-6) of the previous stage's output,
    3x3/2 conv with bias, LayerNorm (eps 1e-5).

    The first norm is the official ``norm{i}`` that closes stage i; it lives
    here (as mmpretrain's ConvNeXt keeps it in its downsample layers) so that
    a stage's returned feature map is the un-normalised block output, exactly
    what the official code passes on.

    Args:
        in_channels (int): Width of the previous stage.
        out_channels (int): Width of this stage.
    """

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.in_norm = nn.LayerNorm(in_channels, eps=1e-6)
        self.proj = nn.Conv2d(
            in_channels, out_channels, 3, stride=2, padding=1)
        self.norm = nn.LayerNorm(out_channels)
        init_conv(self.proj)

    def forward(self, x):
        """(B, H, W, C_in) -> (B, ~H/2, ~W/2, C_out)."""
        x = self.proj(self.in_norm(x).permute(0, 3, 1, 2))
        return self.norm(x.permute(0, 2, 3, 1))


class Block(nn.Module):
    """One GroupMamba block: ``x + mixer(x)``, then ``x + ffn(norm(x))``.

    The mixer has no pre-norm here because it normalises its input itself.

    Args:
        dim (int): Channels C.
        mlp_ratio (int): FFN hidden width = ``mlp_ratio * dim``.
        drop_path (float): Stochastic-depth rate of both branches.
        scan_backend (str): Selective-scan backend.
    """

    def __init__(self, dim, mlp_ratio, drop_path=0., scan_backend='auto'):
        super().__init__()
        self.mixer = GroupMambaLayer(dim, scan_backend=scan_backend)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.ffn = ConvFFN(dim, mlp_ratio * dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x):
        """(B, H, W, C) -> (B, H, W, C)."""
        x = x + self.drop_path(self.mixer(x))
        return x + self.drop_path(self.ffn(self.norm(x)))


class Stage(nn.Module):
    """A downsampling step (none for the first stage) and ``depth`` blocks.

    Args:
        in_channels (int | None): Previous stage's width; None for stage 1,
            whose input comes from the :class:`Stem`.
        dim (int): Width of this stage.
        depth (int): Number of blocks.
        mlp_ratio (int): FFN ratio of the blocks.
        drop_paths (Sequence[float]): Stochastic-depth rate of each block.
        scan_backend (str): Selective-scan backend.
        with_cp (bool): Activation checkpointing of the blocks (see
            :meth:`forward`). Defaults to False.
    """

    def __init__(self, in_channels, dim, depth, mlp_ratio, drop_paths,
                 scan_backend, with_cp=False):
        super().__init__()
        self.with_cp = with_cp
        self.downsample = (
            nn.Identity()
            if in_channels is None else Downsample(in_channels, dim))
        self.blocks = nn.Sequential(*[
            Block(dim, mlp_ratio, drop_paths[i], scan_backend=scan_backend)
            for i in range(depth)
        ])

    def forward(self, x):
        """(B, H, W, C_in) -> (B, H', W', C).

        With ``with_cp``, in training mode and with grad enabled, each block
        runs under ``torch.utils.checkpoint`` (non-reentrant): only its input
        (B, H', W', C) is kept for the backward, which runs the block again
        to rebuild its activations, replaying the RNG state (drop path) of
        the forward. The numbers are those without it; the cost is one more
        forward of the blocks. A frozen stage is in eval mode: never
        checkpointed.
        """
        x = self.downsample(x)
        if not (self.with_cp and self.training and torch.is_grad_enabled()):
            return self.blocks(x)
        for block in self.blocks:
            x = checkpoint(block, x, use_reentrant=False)
        return x


@MODELS.register_module()
class GroupMamba(BaseModule):
    """GroupMamba backbone (arXiv 2407.13772), weight-compatible with the
    official release.

    Args:
        arch (str | dict): 'tiny', 'small' or 'base', or a dict with keys
            ``stem_channels``, ``embed_dims``, ``depths``, ``mlp_ratios``
            (each of the last three a length-4 list). Defaults to 'tiny'.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (Sequence[int] | int): Stages (0-3, negatives allowed)
            whose output maps are returned. Defaults to (3, ), the input of the
            classification neck.
        out_norms (bool): Add a new LayerNorm (eps 1e-6) on each returned
            stage, as dense-prediction backbones do. The ImageNet checkpoints
            have none; leave it off for classification, where the stage-4 map
            must reach the class-block neck un-normalised. Defaults to False.
        drop_path_rate (float): Stochastic depth, linear from 0 over all
            blocks. The official ImageNet recipe uses 0.05. Defaults to 0.
        frozen_stages (int): -1 freezes nothing, 0 the stem, k >= 1 the stem
            and stages 1..k (and their output norms). Defaults to -1.
        norm_eval (bool): Keep the stem's BatchNorm layers in eval mode while
            training (useful at small per-GPU batches). Defaults to False.
        scan_backend (str): Selective-scan backend, 'auto' or a name of
            :func:`mmgroupmamba.ops.available_backends` that can run on this
            machine (checked here, not at the first forward). Defaults to
            'auto'.
        compile (bool | dict): Run the forward (after the input check)
            through ``torch.compile``: True with torch's default options, a
            dict for its keyword options (e.g. ``dict(mode='max-autotune')``),
            False for eager. The same numbers within float32 rounding; the
            first call at each new input shape compiles (tens of seconds on
            a CPU). Needs torch >= 2.4, where each scan is one operator in
            the compiled graph. On a CPU eager is as fast or faster
            (docs/user_guides/configs.md, "Compiled inference, one flag").
            Defaults to False.
        with_cp (bool): Activation checkpointing: in training, each block
            runs under ``torch.utils.checkpoint`` (non-reentrant) and keeps
            only its input, recomputing the rest in the backward. Less
            memory for about one more forward of the blocks, the same
            outputs and gradients (drop path included); for large inputs
            and batches (docs/user_guides/configs.md, "Activation
            checkpointing"). Defaults to False.
        init_cfg (dict | None): ``dict(type='Pretrained', checkpoint=PATH)``
            loads an official or converted checkpoint strictly (see
            ``checkpoint.load_pretrained_backbone``); None keeps the official
            random initialisation. Defaults to None.

    Shapes:
        input (B, in_channels, H, W) with H, W >= 32; output a tuple with one
        (B, C_i, H_i, W_i) map per out index, strides 4, 8, 16, 32.

    Weight loading: a strict load (torch's ``strict=True``; mmengine's
    ``load_from``, ``get_model(pretrained=)`` and inferencers) must bring
    every backbone key under the backbone's prefix with its shape, except
    the new out norms; otherwise :class:`CheckpointError` names both archs
    before the backbone copies anything. torch's ``strict=False`` returns
    the missing and unexpected keys, as torch documents (see
    :mod:`mmgroupmamba.checkpoint.strict`).
    """
    arch_settings = {
        'tiny':
        dict(
            stem_channels=32,
            embed_dims=[64, 128, 348, 448],
            depths=[3, 4, 9, 3],
            mlp_ratios=[8, 8, 4, 4]),
        'small':
        dict(
            stem_channels=64,
            embed_dims=[64, 128, 348, 512],
            depths=[3, 4, 16, 3],
            mlp_ratios=[8, 8, 4, 4]),
        'base':
        dict(
            stem_channels=64,
            embed_dims=[96, 192, 424, 512],
            depths=[3, 6, 21, 3],
            mlp_ratios=[8, 8, 4, 4]),
    }
    min_input_size = 32
    num_stages = 4
    # The dense out norms: new layers, absent from ImageNet files.
    OUT_NORM_KEYS = r'norm\d\.(weight|bias)'

    def __init__(self,
                 arch='tiny',
                 in_channels=3,
                 out_indices=(3, ),
                 out_norms=False,
                 drop_path_rate=0.,
                 frozen_stages=-1,
                 norm_eval=False,
                 scan_backend='auto',
                 compile=False,
                 with_cp=False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.arch = self.resolve_arch(arch)
        dims = self.arch['embed_dims']
        depths = self.arch['depths']
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(
                f'in_channels must be a positive int, got {in_channels!r}')
        # 1.0 would drop every residual branch in the last block always.
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(
                f'drop_path_rate must be in [0, 1), got {drop_path_rate}')
        # Fail here, not at the first forward, where the backend is resolved.
        check_scan_backend(scan_backend)
        # A string 'False' from a command line would switch it on.
        if not isinstance(with_cp, bool):
            raise TypeError(f'with_cp must be True or False, got {with_cp!r}')
        self.with_cp = with_cp
        self.in_channels = in_channels
        self.embed_dims = list(dims)
        self.out_indices = self._normalise_out_indices(out_indices)
        self.out_norms = out_norms
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(
                f'frozen_stages must be in [-1, {self.num_stages}], got '
                f'{frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        self.stem = Stem(in_channels, self.arch['stem_channels'], dims[0])
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = nn.ModuleList()
        for i in range(self.num_stages):
            first = sum(depths[:i])
            self.stages.append(
                Stage(
                    None if i == 0 else dims[i - 1],
                    dims[i],
                    depths[i],
                    self.arch['mlp_ratios'][i],
                    rates[first:first + depths[i]],
                    scan_backend=scan_backend,
                    with_cp=with_cp))
        if out_norms:
            for i in self.out_indices:
                self.add_module(f'norm{i}', nn.LayerNorm(dims[i], eps=1e-6))
        register_strict_loading(
            self, 'GroupMamba backbone', optional=self.OUT_NORM_KEYS)
        self._freeze_stages()
        self._compiled_maps = self._compile_maps(compile)

    @staticmethod
    def _compile_maps(options):
        """``torch.compile`` of :meth:`forward_maps` with ``options`` (see
        the ``compile`` argument), or None for eager.

        The unbound method is compiled, not this instance's: a deep copy
        (mmengine's EMA keeps one) calls the same compiled function with
        itself, never with the module it was copied from.
        """
        if options is False:
            return None
        if options is True:
            options = {}
        if not isinstance(options, dict):
            raise TypeError('compile must be True, False or a dict of '
                            'torch.compile options, got '
                            f'{options!r}')
        require_torch(CUSTOM_OPS, 'GroupMamba(compile=...)')
        return torch.compile(GroupMamba.forward_maps, **options)

    @classmethod
    def resolve_arch(cls, arch):
        """Return the settings dict for a name or validate a custom dict."""
        if isinstance(arch, str):
            if arch not in cls.arch_settings:
                raise ValueError(f'unknown GroupMamba arch {arch!r}; choose '
                                 f'one of {sorted(cls.arch_settings)} or '
                                 'pass a dict')
            return copy.deepcopy(cls.arch_settings[arch])
        required = {'stem_channels', 'embed_dims', 'depths', 'mlp_ratios'}
        if not isinstance(arch, dict) or set(arch) != required:
            raise ValueError(f'a custom arch must be a dict with exactly the '
                             f'keys {sorted(required)}, got {arch!r}')
        for key in ('embed_dims', 'depths', 'mlp_ratios'):
            if len(arch[key]) != cls.num_stages:
                raise ValueError(f'arch[{key!r}] needs {cls.num_stages} '
                                 f'values, got {arch[key]!r}')
        bad = [d for d in arch['embed_dims'] if d % 4]
        if bad:
            raise ValueError('embed_dims must be divisible by 4 (four scan '
                             f'groups), got {arch["embed_dims"]}')
        return copy.deepcopy(arch)

    def _normalise_out_indices(self, out_indices):
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        # An empty tuple would build a backbone whose forward returns ().
        if len(out_indices) == 0:
            raise ValueError('out_indices must name at least one stage '
                             f'(0-{self.num_stages - 1} or negative), got ()')
        result = []
        for index in out_indices:
            normalised = index + self.num_stages if index < 0 else index
            if not 0 <= normalised < self.num_stages:
                raise ValueError(f'out index {index} is out of range for '
                                 f'{self.num_stages} stages')
            if normalised in result:
                raise ValueError(f'out_indices {tuple(out_indices)} name stage '
                                 f'{normalised} twice')
            result.append(normalised)
        return tuple(result)

    def no_weight_decay(self):
        """Names of the parameters that take no weight decay besides the
        1-D ones: those each :class:`DirectionalSSM` declares (see its
        ``no_weight_decay``), with their path in the backbone. Applied by
        :class:`mmgroupmamba.engine.GroupMambaOptimWrapperConstructor`.

        Returns:
            set[str]: e.g. ``'stages.0.blocks.0.mixer.ssm.D'``.
        """
        return {
            f'{path}.{name}'
            for path, module in self.named_modules()
            if isinstance(module, DirectionalSSM)
            for name in module.no_weight_decay()
        }

    def _check_input(self, x):
        if (x.dim() != 4 or x.shape[1] != self.in_channels
                or min(x.shape[-2:]) < self.min_input_size):
            raise ValueError(
                f'GroupMamba expects images of shape (B, {self.in_channels}, '
                f'H, W) with H, W >= {self.min_input_size}, got '
                f'{tuple(x.shape)}')
        if self.training:
            # Fail at the bad batch, not with a NaN loss iterations later;
            # checked in training only, where one host sync is cheap.
            if x.shape[0] == 0:
                raise ValueError('GroupMamba got an empty batch (B = 0) in '
                                 'training; check the data pipeline')
            if not torch.isfinite(x).all():
                raise ValueError(
                    'GroupMamba input holds NaN or Inf values '
                    f'({int((~torch.isfinite(x)).sum())} of {x.numel()}); '
                    'check the data pipeline and normalisation')

    def forward(self, x):
        """Image (B, C_in, H, W) -> tuple of NCHW maps, one per out index."""
        self._check_input(x)
        if self._compiled_maps is not None:
            return self._compiled_maps(self, x)
        return self.forward_maps(x)

    def forward_maps(self, x):
        """:meth:`forward` without the input check (what ``compile``
        compiles: the check syncs with the host in training)."""
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(x) if self.out_norms else x
                outs.append(out.permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def _frozen_modules(self):
        if self.frozen_stages < 0:
            return []
        modules = [self.stem]
        for i in range(self.frozen_stages):
            modules.append(self.stages[i])
            if self.out_norms and i in self.out_indices:
                modules.append(getattr(self, f'norm{i}'))
        return modules

    def _freeze_stages(self):
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode=True):
        """Switch mode, keeping frozen stages and (with norm_eval) BN in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
        return self

    def init_weights(self):
        """Load ``init_cfg`` 'Pretrained' strictly; otherwise keep the official
        initialisation done at construction."""
        if self.init_cfg is not None and self.init_cfg.get('type') == 'Pretrained':
            load_pretrained_backbone(
                self,
                self.init_cfg['checkpoint'],
                prefix=self.init_cfg.get('prefix'))
            self._is_init = True
        else:
            super().init_weights()


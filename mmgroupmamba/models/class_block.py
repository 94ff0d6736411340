"""The official classification neck: mean token -> class block -> LayerNorm."""
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from timm.layers import Mlp
from torch import nn

from ..checkpoint import register_strict_loading
from .group_mamba_layer import GroupMambaLayer
from .init import init_linear


class ClassBlock(nn.Module):
    """CaiT-style class block of the official code, applied to the pooled token.

    ``c = c + mixer_norm(mixer(c))`` (note: post-norm on the branch), then
    ``c = c + ffn(ffn_norm(c))``. The mixer sees the single token as a 1x1
    image, so the whole block is a pointwise function of the pooled feature:
    the patch tokens the official code concatenates pass through untouched.

    Args:
        dim (int): Channels C.
        mlp_ratio (int): Hidden width of the plain (conv-free) MLP. Defaults to 4.
        scan_backend (str): Selective-scan backend. Defaults to 'auto'.
    """

    def __init__(self, dim, mlp_ratio=4, scan_backend='auto'):
        super().__init__()
        self.mixer = GroupMambaLayer(dim, scan_backend=scan_backend)
        self.mixer_norm = nn.LayerNorm(dim, eps=1e-6)
        self.ffn_norm = nn.LayerNorm(dim, eps=1e-6)
        self.ffn = Mlp(dim, mlp_ratio * dim)  # fc1 -> exact GELU -> fc2
        init_linear(self.ffn.fc1)
        init_linear(self.ffn.fc2)

    def forward(self, cls_token):
        """(B, 1, 1, C) -> (B, 1, 1, C)."""
        x = cls_token + self.mixer_norm(self.mixer(cls_token))
        return x + self.ffn(self.ffn_norm(x))


@MODELS.register_module()
class ClassBlockNeck(BaseModule):
    """Pool the last backbone map and refine it as the official model does.

    Global average pooling of the un-normalised stage-4 map, one
    :class:`ClassBlock`, then LayerNorm (eps 1e-6; the official ``norm4``).

    Args:
        in_channels (int): Channels of the last stage (448 for GroupMamba-T,
            512 for S and B).
        mlp_ratio (int): Class-block MLP ratio. Defaults to 4.
        scan_backend (str): Selective-scan backend. Defaults to 'auto'.
        init_cfg (dict | None): mmengine init config. Defaults to None.

    Shapes:
        input: tuple of maps, the last (B, C, H, W); output: ((B, C), ).
    """

    def __init__(self, in_channels, mlp_ratio=4, scan_backend='auto',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.class_block = ClassBlock(
            in_channels, mlp_ratio=mlp_ratio, scan_backend=scan_backend)
        self.norm = nn.LayerNorm(in_channels, eps=1e-6)
        # A dense model's file has no neck: then the host's convention
        # (reported as missing); a neck of another width is an arch error.
        register_strict_loading(
            self, 'GroupMamba class-block neck', required=False)

    def forward(self, inputs):
        feature_map = inputs[-1]
        cls_token = feature_map.mean(dim=(2, 3))[:, None, None, :]
        return (self.norm(self.class_block(cls_token)).flatten(1), )

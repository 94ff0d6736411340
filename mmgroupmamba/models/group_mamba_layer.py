"""The Modulated Group Mamba layer: the token mixer of every GroupMamba block."""
import torch
from torch import nn

from .directional_ssm import DirectionalSSM
from .init import init_linear
from .pointwise import channel_last_linear


class ChannelAffinity(nn.Module):
    """Channel Affinity Modulation: a squeeze-excitation gate over channels.

    ``sigmoid(fc2(relu(fc1(mean over tokens))))``, reduction 16 by floor
    division as in the official code (348 channels -> 21 hidden).

    Args:
        dim (int): Channels C.
        reduction (int): Hidden size is ``dim // reduction``. Defaults to 16.
    """

    def __init__(self, dim, reduction=16):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim // reduction)
        self.fc2 = nn.Linear(dim // reduction, dim)
        init_linear(self.fc1)
        init_linear(self.fc2)

    def forward(self, x):
        """Gate weights (B, C) for tokens ``x`` (B, H, W, C)."""
        pooled = x.mean(dim=(1, 2))
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(pooled))))


class GroupMambaLayer(nn.Module):
    """Token mixer of a GroupMamba block (the official ``attn`` module).

    ``xn = norm(x)``; the four channel quarters of ``xn`` are scanned in four
    directions (:class:`DirectionalSSM`); the result is multiplied elementwise
    by ``skip_scale * xn`` (a multiplicative gate the paper does not mention),
    scaled per channel by :class:`ChannelAffinity` of ``xn``, normalised by the
    SAME LayerNorm again and projected. The residual add is the caller's.

    Args:
        dim (int): Channels C (divisible by 4).
        d_state (int): SSM state size. Defaults to 1.
        scan_backend (str): Selective-scan backend. Defaults to 'auto'.
    """

    def __init__(self, dim, d_state=1, scan_backend='auto'):
        super().__init__()
        self.norm = nn.LayerNorm(dim)  # eps 1e-5, unlike the blocks' 1e-6
        self.cam = ChannelAffinity(dim)
        self.ssm = DirectionalSSM(
            dim, d_state=d_state, scan_backend=scan_backend)
        self.skip_scale = nn.Parameter(torch.ones(1))
        self.proj = nn.Linear(dim, dim)
        init_linear(self.proj)

    def forward(self, x):
        """Mix ``x`` (B, H, W, C) -> (B, H, W, C), float32 or wider."""
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()  # the official layer runs in float32 under AMP
        xn = self.norm(x)
        # skip_scale * cam is a (B, C) gain: folded before it meets the
        # maps, the two map-sized products become one.
        gain = (self.skip_scale * self.cam(xn))[:, None, None, :]
        y = self.ssm(xn) * (xn * gain)
        return channel_last_linear(self.proj, self.norm(y))

"""The feed-forward network of a GroupMamba block (PVTv2-style, with a depthwise conv)."""
import torch.nn.functional as F
from torch import nn

from .init import init_conv, init_linear
from .pointwise import channel_last_linear


class ConvFFN(nn.Module):
    """fc1 -> depthwise 3x3 conv -> GELU (exact) -> fc2, on channel-last tokens.

    Args:
        dim (int): Channels C in and out.
        hidden_dim (int): Hidden channels (``mlp_ratio * dim``).
    """

    def __init__(self, dim, hidden_dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.dwconv = nn.Conv2d(
            hidden_dim, hidden_dim, 3, padding=1, groups=hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)
        init_linear(self.fc1)
        init_conv(self.dwconv)
        init_linear(self.fc2)

    def forward(self, x):
        """``x`` (B, H, W, C) -> (B, H, W, C)."""
        x = channel_last_linear(self.fc1, x)
        # A permuted channel-last tensor is a channels_last NCHW tensor: the
        # conv reads it in place and its output permutes back without a copy.
        x = self.dwconv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return channel_last_linear(self.fc2, F.gelu(x))

"""The feed-forward network of a GroupMamba block (PVTv2-style, with a depthwise conv)."""
import torch.nn.functional as F
from torch import nn

from .init import init_conv, init_linear
from .pointwise import channel_linear


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
        # The permuted tokens are a channels_last NCHW map: the three layers
        # read it in place, and the hidden map stays in that layout, which
        # torch.compile keeps too (going back to tokens between the layers
        # made it copy the hidden map twice per block at batch 1).
        x = channel_linear(self.fc1, x.permute(0, 3, 1, 2))
        x = F.gelu(self.dwconv(x))
        return channel_linear(self.fc2, x).permute(0, 2, 3, 1)

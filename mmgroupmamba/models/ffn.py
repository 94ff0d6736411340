"""The feed-forward network of a GroupMamba block (PVTv2-style, with a depthwise conv)."""
import torch
from torch import nn

from .init import init_conv, init_linear
from mmgroupmamba.ops.tracing import is_traced
from .pointwise import channel_linear, depthwise_conv_act

#: On a CPU, the most bytes of hidden map one pass of the FFN makes: larger
#: batches run a few images a pass, and an image larger still runs in bands
#: of rows. Why: glibc serves a request at or above its largest mmap
#: threshold (32 MiB on 64-bit hosts) with fresh pages every time, and
#: touching them costs about as much as the layer (GroupMamba-T's stage-1
#: hidden map is 51 MB at batch 8: 12.5k page faults per fc1 call; a
#: detector's at 800x1216 is 124 MB an image: 30k faults per call). Maps
#: below it are reused from the heap. 31 MiB leaves room for the
#: allocator's header and alignment (a 512 x 128 x 128 map, UperNet's
#: stage 1 at 512x512, is exactly 32 MiB and was mapped afresh each call).
CPU_HIDDEN_BYTES = 31 * 2**20


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
        x = x.permute(0, 3, 1, 2)
        # Traced graphs (compile, export) take the map whole: a split would
        # fix their input size, and Inductor plans its own buffers.
        if is_traced() or x.device.type != 'cpu':
            return self.mlp(x).permute(0, 2, 3, 1)
        rows = self.rows_per_band(x)
        if rows < x.shape[2]:
            return torch.cat([self.mlp_in_bands(image, rows)
                              for image in x.split(1)])
        parts = x.split(self.images_per_pass(x))
        if len(parts) > 1:
            x = torch.cat([self.mlp(part) for part in parts])
        else:
            x = self.mlp(x)
        return x.permute(0, 2, 3, 1)

    def mlp(self, x, rows=None):
        """The three layers on a map ``x`` (B, C, H, W) -> (B, C, H', W).

        ``rows`` (a slice, optional) picks the hidden rows fc2 reads, H' of
        them: a band drops its halo rows there. By default all H.
        """
        hidden = depthwise_conv_act(
            channel_linear(self.fc1, x), self.dwconv.weight, self.dwconv.bias,
            self.dwconv.padding[0], 'gelu')
        if rows is not None:
            hidden = hidden[:, :, rows]
        return channel_linear(self.fc2, hidden)

    def mlp_in_bands(self, x, rows):
        """:meth:`mlp` of one image ``x`` (1, C, H, W) in bands of ``rows``
        output rows, returned as tokens (1, H, W, C).

        A band's fc1 and depthwise conv also make the row above and the row
        below it, which the 3x3 conv reads (at the image's edges its zero
        padding stands in), so the bands join to the one-pass result. The
        bands join as tokens: concatenating channels-last NCHW maps along H
        would not keep their layout.
        """
        height = x.shape[2]
        padding = self.dwconv.padding[0]
        bands = []
        for top in range(0, height, rows):
            bottom = min(top + rows, height)
            first = max(top - padding, 0)
            last = min(bottom + padding, height)
            band = self.mlp(x[:, :, first:last],
                            slice(top - first, bottom - first))
            bands.append(band.permute(0, 2, 3, 1))
        return torch.cat(bands, dim=1)

    def hidden_row_bytes(self, x):
        """Bytes of one row of one image's hidden map for a map ``x``
        (B, C, H, W)."""
        return self.fc1.out_features * x.shape[3] * x.element_size()

    def rows_per_band(self, x):
        """Output rows of one band for a map ``x`` (B, C, H, W) on a CPU: H
        where one image's hidden map fits :data:`CPU_HIDDEN_BYTES`, else H
        split evenly into bands whose hidden maps, halo rows included, fit
        it."""
        height = x.shape[2]
        row_bytes = self.hidden_row_bytes(x)
        if height * row_bytes <= CPU_HIDDEN_BYTES:
            return height
        halo = 2 * self.dwconv.padding[0]
        most = max(1, CPU_HIDDEN_BYTES // row_bytes - halo)
        bands = -(-height // most)
        return -(-height // bands)

    def images_per_pass(self, x):
        """How many images of a map ``x`` (B, C, H, W) one pass takes on a
        CPU: as many as keep the hidden map within
        :data:`CPU_HIDDEN_BYTES`, at least one."""
        per_image = self.hidden_row_bytes(x) * x.shape[2]
        return max(1, CPU_HIDDEN_BYTES // per_image)

"""Pictures of what GroupMamba does (``tools/visualize.py`` draws them).

* :func:`draw_scan_orders`: the four directions of a GroupMambaLayer on a
  small grid, drawn from the model's own ``scan_orders``;
* :func:`draw_features`: per stage, the first three principal components of
  the stage map as RGB;
* :func:`draw_erf`: the effective receptive field of each stage, as in the
  RepLKNet and VMamba papers: |d (centre of the stage map, summed over
  channels) / d input| summed over colour channels, averaged over images,
  log-scaled.

matplotlib draws them (with its non-interactive Agg backend).
"""
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from PIL import Image  # noqa: E402

from .apis import init_model  # noqa: E402
from .models.directional_ssm import scan_orders  # noqa: E402

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
DIRECTIONS = ('group 1: row-major', 'group 2: column-major',
              'group 3: row-major, reversed', 'group 4: column-major, reversed')


def draw_scan_orders(path, height=5, width=6):
    """The four directions of a GroupMambaLayer on a height x width grid,
    from the model's own ``scan_orders``; saved as a PNG at ``path``."""
    order, _ = scan_orders(height, width, torch.device('cpu'))
    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    for k, ax in enumerate(axes):
        tokens = order[k].tolist()
        rows = [t // width for t in tokens]
        cols = [t % width for t in tokens]
        ax.plot(cols, rows, '-', color='0.6', zorder=1)
        ax.scatter(cols, rows, c=np.arange(len(tokens)), cmap='viridis',
                   s=160, zorder=2)
        for step, (r, c) in enumerate(zip(rows, cols)):
            ax.annotate(str(step), (c, r), ha='center', va='center',
                        fontsize=7, color='white', zorder=3)
        ax.annotate('', xy=(cols[1], rows[1]), xytext=(cols[0], rows[0]),
                    arrowprops=dict(arrowstyle='->', color='red', lw=2))
        ax.set_title(DIRECTIONS[k])
        ax.set_xlim(-0.6, width - 0.4)
        ax.set_ylim(height - 0.4, -0.6)
        ax.set_aspect('equal')
        ax.set_xticks(range(width))
        ax.set_yticks(range(height))
    fig.suptitle(f'scan order of each channel group on a {height}x{width} '
                 'token grid (numbers: step; red arrow: first step)')
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def build_backbone(config, checkpoint=None):
    """The backbone of a classifier config, giving all four stage maps.

    Args:
        config (str | Path): An mmpretrain config of this project.
        checkpoint (str | Path | None): Converted or official weights,
            loaded strictly by the backbone's ``init_cfg`` (the classifier's
            other parts are dropped); None: the official random
            initialisation under seed 0.

    Returns:
        GroupMamba: In eval mode, ``out_indices=(0, 1, 2, 3)``.
    """
    cfg = Config.fromfile(str(config))
    cfg.model = cfg.model.backbone
    cfg.model.update(out_indices=(0, 1, 2, 3), drop_path_rate=0.0)
    if checkpoint is not None:
        cfg.model.init_cfg = dict(type='Pretrained', checkpoint=str(checkpoint))
    torch.manual_seed(0)
    return init_model(cfg)


def demo_images(count, size=224):
    """Simple drawn pictures (no dataset needed): (count, 3, size, size) RGB."""
    gen = torch.Generator().manual_seed(0)
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size),
                            indexing='ij')
    images = []
    for i in range(count):
        cy, cx = torch.randint(40, size - 40, (2, ), generator=gen).tolist()
        radius = 20 + 10 * i
        disc = ((ys - cy)**2 + (xs - cx)**2 < radius**2).float()
        stripes = ((xs + ys * i) // 16 % 2).float()
        colour = torch.rand(3, 1, 1, generator=gen)
        images.append(255 * (0.3 * stripes + 0.7 * disc * colour))
    return torch.stack(images)


def load_image(path, size=224):
    """An image file as a (1, 3, size, size) float RGB tensor, 0-255."""
    image = Image.open(path).convert('RGB').resize((size, size))
    return torch.from_numpy(np.asarray(image)).permute(2, 0, 1)[None].float()


def draw_features(path, backbone, image):
    """Per stage, the first three principal components of the stage map
    of ``image`` (1, 3, 224, 224) as RGB; saved as a PNG at ``path``."""
    with torch.no_grad():
        maps = backbone((image - MEAN) / STD)
    fig, axes = plt.subplots(1, 5, figsize=(20, 4.6))
    axes[0].imshow(image[0].permute(1, 2, 0).byte().numpy())
    axes[0].set_title('input')
    for i, (ax, fmap) in enumerate(zip(axes[1:], maps)):
        c, h, w = fmap.shape[1:]
        flat = fmap[0].reshape(c, h * w).T  # tokens x channels
        flat = flat - flat.mean(0)
        _, _, components = torch.pca_lowrank(flat, q=3, center=False)
        rgb = (flat @ components[:, :3]).reshape(h, w, 3)
        rgb = (rgb - rgb.amin((0, 1))) / (rgb.amax((0, 1)) -
                                         rgb.amin((0, 1)) + 1e-8)
        ax.imshow(rgb.numpy(), interpolation='nearest')
        ax.set_title(f'stage {i + 1}: {c} ch, {h}x{w}')
    for ax in axes:
        ax.axis('off')
    fig.suptitle('stage maps: first 3 principal components as RGB')
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def draw_erf(path, backbone, images):
    """The effective receptive field of each stage, averaged over
    ``images`` (n, 3, 224, 224); saved as a PNG at ``path``."""
    inputs = ((images - MEAN) / STD).requires_grad_(True)
    maps = backbone(inputs)
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.6), layout='constrained')
    for i, (ax, fmap) in enumerate(zip(axes, maps)):
        h, w = fmap.shape[-2:]
        centre = fmap[:, :, h // 2, w // 2].sum()
        grad, = torch.autograd.grad(centre, inputs, retain_graph=i < 3)
        erf = grad.abs().sum(1).mean(0)  # over colour, then images
        erf = torch.log10(erf / erf.max() + 1e-6)
        im = ax.imshow(erf.numpy(), cmap='RdYlGn', vmin=-6, vmax=0)
        ax.set_title(f'stage {i + 1} (centre of {h}x{w})')
        ax.axis('off')
    fig.colorbar(im, ax=axes, shrink=0.8, label='log10 |grad| (normalised)')
    fig.suptitle(f'effective receptive field at 224 px, {len(images)} '
                 'images')
    fig.savefig(path, dpi=100)

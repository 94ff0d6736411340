"""Make a small ADE20K-format semantic-segmentation set of drawn scenes.

    python tools/make_ade_data.py data/groupmamba_ade_smoke [--seed 0]

Each image is a drawn outdoor scene: sky above a random horizon, grass below
it, a road widening towards the bottom, buildings (window grids) standing on
the horizon and trees (blobs) in front of them, each class with its own
colour range and texture; a few objects of no class (random colours and
shapes) are painted over everything. Labels follow ADE20K's 150-class
convention: single-channel PNGs holding the 1-based ADE20K class index
(sky 3, building 2, tree 5, grass 10, road 7) and 0 for "other", which
mmseg's ``reduce_zero_label`` turns into the ignore index 255 (and every
class index k into k - 1). The output is a function of the arguments alone
(same seed, same bytes) and is laid out as mmseg's ``ADE20KDataset``
expects::

    OUT/images/training/ADE_train_00000001.jpg
    OUT/annotations/training/ADE_train_00000001.png
    OUT/images/validation/ADE_val_00000001.jpg
    OUT/annotations/validation/ADE_val_00000001.png

It exists to exercise segmentors end to end (training, mIoU evaluation,
test-time augmentation, inference) without downloading anything; it says
nothing about ADE20K accuracy.
"""
from pathlib import Path

import cv2
import numpy as np

from .splits import make_train_val

# Label values written to the PNGs: ADE20K's 1-based class indices
# (mmseg's ADE20KDataset.METAINFO['classes'][k - 1]); 0 is "other".
OTHER = 0
SKY, BUILDING, TREE, GRASS, ROAD = 3, 2, 5, 10, 7
CLASS_NAMES = {
    SKY: 'sky',
    BUILDING: 'building',
    TREE: 'tree',
    GRASS: 'grass',
    ROAD: 'road'
}
SPLIT_FOLDERS = {'train': 'training', 'val': 'validation'}
JPEG_QUALITY = 95


def _noise(rng, height, width, cell):
    """Smooth noise in [0, 1] of shape (height, width), ``cell`` px grain."""
    coarse = rng.random((height // cell + 2, width // cell + 2))
    return cv2.resize(
        coarse.astype(np.float32), (width, height),
        interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _tint(rng, base, jitter):
    """A colour (BGR float) near ``base`` (BGR), each channel +- jitter."""
    return np.clip(np.asarray(base, np.float32) +
                   rng.uniform(-jitter, jitter, size=3), 0, 255)


def _paint(image, labels, mask, texture, label):
    """Write ``texture`` (H, W, 3) and ``label`` where ``mask`` is set."""
    image[mask] = texture[mask]
    labels[mask] = label


def _layer_textures(rng, height, width):
    """One full-size texture per class, each with its own look.

    Returns:
        dict[int, np.ndarray]: (H, W, 3) float32 BGR textures by label.
    """
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    sky_top, sky_bottom = _tint(rng, (200, 120, 40), 30), _tint(
        rng, (245, 210, 170), 20)
    sky = sky_top * (1 - rows) + sky_bottom * rows  # smooth gradient
    sky = np.broadcast_to(sky, (height, width, 3))

    grass = _tint(rng, (40, 150, 60), 25) * (
        0.6 + 0.6 * _noise(rng, height, width, 3))[..., None]

    road = np.broadcast_to(_tint(rng, (110, 110, 110), 25),
                           (height, width, 3)).copy()
    road *= (0.85 + 0.3 * _noise(rng, height, width, 8))[..., None]

    # Buildings: a wall colour with a regular grid of darker windows.
    wall = _tint(rng, (120, 140, 190), 35)
    period = int(rng.integers(6, 11))
    yy, xx = np.mgrid[0:height, 0:width]
    windows = ((yy % period) < period // 2) & ((xx % period) < period // 2)
    building = np.where(windows[..., None], wall * 0.45, wall)

    tree = _tint(rng, (30, 90, 30), 20) * (
        0.5 + 0.8 * _noise(rng, height, width, 2))[..., None]
    return {
        SKY: sky,
        GRASS: grass,
        ROAD: road,
        BUILDING: building,
        TREE: tree
    }


def draw_scene(rng, height, width):
    """Draw one scene.

    Args:
        rng (np.random.Generator): The random stream.
        height (int): Image height in pixels.
        width (int): Image width in pixels.

    Returns:
        tuple[np.ndarray, np.ndarray]: The (H, W, 3) uint8 BGR image and the
        (H, W) uint8 label map (ADE20K indices, 0 = other).
    """
    textures = _layer_textures(rng, height, width)
    image = np.zeros((height, width, 3), np.float32)
    labels = np.zeros((height, width), np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]

    horizon = int(rng.uniform(0.35, 0.6) * height)
    _paint(image, labels, yy < horizon, textures[SKY], SKY)
    _paint(image, labels, yy >= horizon, textures[GRASS], GRASS)

    # A road from the horizon to the bottom edge, widening towards the viewer.
    centre = rng.uniform(0.2, 0.8) * width
    top_half, bottom_half = rng.uniform(0.02, 0.08), rng.uniform(0.2, 0.45)
    depth = (yy - horizon) / max(height - horizon, 1)
    half_width = (top_half + (bottom_half - top_half) * depth) * width
    road = (yy >= horizon) & (np.abs(xx - centre) <= half_width)
    _paint(image, labels, road, textures[ROAD], ROAD)

    for _ in range(int(rng.integers(1, 4))):
        x0 = int(rng.uniform(-0.1, 0.9) * width)
        w = int(rng.uniform(0.1, 0.35) * width)
        top = int(rng.uniform(0.05, 0.8) * horizon)
        building = (xx >= x0) & (xx < x0 + w) & (yy >= top) & (yy < horizon)
        _paint(image, labels, building, textures[BUILDING], BUILDING)

    for _ in range(int(rng.integers(1, 4))):
        mask = np.zeros((height, width), np.uint8)
        centre_xy = (int(rng.uniform(0, width)),
                     int(horizon + rng.uniform(-0.15, 0.1) * height))
        axes = (int(rng.uniform(0.05, 0.15) * width),
                int(rng.uniform(0.1, 0.25) * height))
        cv2.ellipse(mask, centre_xy, axes, 0, 0, 360, 1, thickness=-1)
        _paint(image, labels, mask > 0, textures[TREE], TREE)

    # Objects of no class: labelled 0 ("other"), ignored after
    # reduce_zero_label, so the metric never scores them.
    for _ in range(int(rng.integers(0, 3))):
        mask = np.zeros((height, width), np.uint8)
        centre_xy = rng.uniform([0, 0], [width, height])
        points = centre_xy + rng.uniform(-0.15, 0.15, size=(5, 2)) * width
        cv2.fillPoly(mask, [points.astype(np.int32)], 1)
        other = np.broadcast_to(
            rng.uniform(0, 255, size=3).astype(np.float32), image.shape)
        _paint(image, labels, mask > 0, other, OTHER)

    image += rng.normal(0, 4, size=image.shape)  # sensor grain
    return np.clip(image, 0, 255).astype(np.uint8), labels


def make_split(out_dir, split, num_images, seed, height, width):
    """Write one split's images and label maps.

    Args:
        out_dir (Path): Root folder of the set.
        split (str): 'train' or 'val'.
        num_images (int): Images in this split.
        seed (int): Seed of this split's random stream.
        height (int): Image height in pixels.
        width (int): Image width in pixels.

    Returns:
        dict[int, int]: Pixel count per label value over the split.
    """
    if split not in SPLIT_FOLDERS:
        raise ValueError(f'split must be one of {sorted(SPLIT_FOLDERS)}, '
                         f'got {split!r}')
    rng = np.random.default_rng(seed)
    folder = SPLIT_FOLDERS[split]
    image_dir = out_dir / 'images' / folder
    label_dir = out_dir / 'annotations' / folder
    image_dir.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for index in range(1, num_images + 1):
        image, labels = draw_scene(rng, height, width)
        stem = f'ADE_{split}_{index:08d}'
        cv2.imwrite(
            str(image_dir / f'{stem}.jpg'), image,
            [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        cv2.imwrite(str(label_dir / f'{stem}.png'), labels)
        values, pixels = np.unique(labels, return_counts=True)
        for value, count in zip(values.tolist(), pixels.tolist()):
            counts[value] = counts.get(value, 0) + count
    return counts


def make_ade_data(out_dir, seed=0, num_train=64, num_val=16, height=128,
                  width=192):
    """Write the train and val splits under ``out_dir``; see the module doc.

    The two splits use independent streams derived from ``seed``, so changing
    ``num_train`` does not change the val images (:func:`.make_train_val`).

    Args:
        out_dir (str | Path): Root folder of the set (created if needed).
        seed (int): Seed of the whole set. Defaults to 0.
        num_train (int): Training images. Defaults to 64.
        num_val (int): Validation images. Defaults to 16.
        height (int): Image height in pixels. Defaults to 128.
        width (int): Image width in pixels. Defaults to 192.

    Returns:
        dict[str, dict[int, int]]: Pixel count per label value, by split.
    """
    if min(height, width) < 32:
        raise ValueError(f'images must be at least 32x32 (the backbone '
                         f'minimum), got {width}x{height}')
    if num_train < 1 or num_val < 1:
        raise ValueError(f'each split needs at least one image, got '
                         f'num_train={num_train}, num_val={num_val}')
    return make_train_val(make_split, seed, num_train, num_val,
                          out_dir=Path(out_dir), height=height, width=width)

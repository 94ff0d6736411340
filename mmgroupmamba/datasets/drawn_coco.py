"""Make a small COCO-format instance-segmentation set of drawn shapes.

    python tools/make_coco_data.py data/groupmamba_smoke [--seed 0]

Three classes (circle, rectangle, triangle) in random colours on textured
backgrounds, several instances per image, later shapes partly occluding
earlier ones. Every annotation describes the *visible* part of its instance:
polygons traced from the rendered visibility mask, ``area`` = visible pixel
count, ``bbox`` = the visible part's ``[x, y, w, h]``. The output is a function
of the arguments alone (same seed, same bytes) and is laid out as mmdet's
``CocoDataset`` expects::

    OUT/annotations/instances_train.json   OUT/train/000000.png ...
    OUT/annotations/instances_val.json     OUT/val/000000.png ...

It exists to exercise detectors end to end (training, COCO evaluation,
inference) without downloading anything; it says nothing about COCO accuracy.
"""
import json
from pathlib import Path

import cv2
import numpy as np

from .splits import make_train_val

CLASSES = ('circle', 'rectangle', 'triangle')
# An instance must keep this share of its drawn area visible (and this many
# pixels), else the image is redrawn: painted objects that the ground truth
# could not fairly describe (slivers, specks) never reach the annotations.
MIN_VISIBLE_FRACTION = 0.4
MIN_VISIBLE_PIXELS = 64
CIRCLE_VERTICES = 32


def _background(rng, height, width):
    """A textured background: two-colour low-frequency noise plus stripes."""
    coarse = rng.random((height // 16 + 2, width // 16 + 2)).astype(np.float32)
    noise = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(6, 24)
    stripes = 0.5 + 0.5 * np.sin(
        2 * np.pi * (cols * np.cos(angle) + rows * np.sin(angle)) / period)
    mix = np.clip(0.7 * noise + 0.3 * stripes, 0, 1)[..., None]
    low, high = rng.integers(0, 256, size=(2, 3))
    image = low * (1 - mix) + high * mix
    image += rng.normal(0, 6, size=image.shape)  # pixel grain
    return np.clip(image, 0, 255).astype(np.uint8)


def _shape_polygon(rng, label, height, width):
    """Vertices (N, 2) in (x, y) pixels of one random shape of class ``label``.

    Shapes are 15-70% of the shorter image side across, so that all three
    COCO size ranges (small < 32^2 < medium < 96^2 < large pixels) occur at
    the default 256x192, and may cross the image border (the annotation then
    covers the visible part only).
    """
    size = rng.uniform(0.15, 0.7) * min(height, width)
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    if label == 'circle':
        t = np.linspace(0, 2 * np.pi, CIRCLE_VERTICES, endpoint=False)
        points = np.stack([np.cos(t), np.sin(t)], axis=1) * size / 2
    elif label == 'rectangle':
        half = np.array([size, size * rng.uniform(0.4, 1.0)]) / 2
        points = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
    else:
        t = rng.uniform(0, 2 * np.pi) + np.array([0, 2, 4]) * np.pi / 3
        t += rng.uniform(-0.3, 0.3, size=3)  # not always equilateral
        points = np.stack([np.cos(t), np.sin(t)], axis=1) * size / 2
    theta = rng.uniform(0, np.pi)
    rotation = np.array([[np.cos(theta), -np.sin(theta)],
                         [np.sin(theta), np.cos(theta)]])
    return points @ rotation.T + [cx, cy]


def _fill(mask, polygon):
    """Set ``polygon``'s pixels of ``mask`` to 1, vertices at 1/16 pixel."""
    shift = 4
    vertices = np.round(polygon * (1 << shift)).astype(np.int32)
    cv2.fillPoly(mask, [vertices], 1, lineType=cv2.LINE_8, shift=shift)


def _mask_to_annotation(mask):
    """COCO ``segmentation``, ``area`` and ``bbox`` of a 0/1 mask, or None.

    The polygons are the outer contours of the mask's connected parts. None
    when the mask has a hole (a later shape painted inside an earlier one):
    outer contours would claim the hole, and a polygon list cannot subtract
    it, so such a layout is redrawn instead.
    """
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP,
                                           cv2.CHAIN_APPROX_SIMPLE)
    # With RETR_CCOMP, hierarchy[..., 3] is the parent: >= 0 marks a hole.
    if (hierarchy[0, :, 3] >= 0).any():
        return None
    # Fewer than 3 vertices is a line or a point: no area, not a polygon.
    polygons = [
        contour.reshape(-1, 2).astype(float).ravel().tolist()
        for contour in contours if len(contour) >= 3
    ]
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    bbox = [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1]
    return dict(segmentation=polygons, area=int(mask.sum()), bbox=bbox)


def _draw_instances(rng, background, num_instances):
    """Paint shapes one over another on a copy of ``background``.

    Returns:
        tuple[np.ndarray, list[tuple[str, dict]]]: The image and, per
        instance, its class name and COCO geometry (see
        :func:`_mask_to_annotation`) of the part left visible.
    """
    height, width = background.shape[:2]
    while True:
        image = background.copy()
        owner = np.full((height, width), -1, dtype=np.int32)
        labels, full_areas = [], []
        for index in range(num_instances):
            label = CLASSES[rng.integers(len(CLASSES))]
            shape_mask = np.zeros((height, width), dtype=np.uint8)
            _fill(shape_mask, _shape_polygon(rng, label, height, width))
            image[shape_mask > 0] = rng.integers(0, 256, size=3)
            owner[shape_mask > 0] = index
            labels.append(label)
            full_areas.append(int(shape_mask.sum()))
        annotations = []
        for index, full_area in enumerate(full_areas):
            mask = (owner == index).astype(np.uint8)
            visible = int(mask.sum())
            if visible < max(MIN_VISIBLE_PIXELS,
                             MIN_VISIBLE_FRACTION * full_area):
                break
            geometry = _mask_to_annotation(mask)
            if geometry is None:
                break
            annotations.append((labels[index], geometry))
        else:
            return image, annotations


def make_split(out_dir, split, num_images, seed, height, width,
               max_instances):
    """Write ``OUT/{split}/*.png`` and ``OUT/annotations/instances_{split}.json``.

    Args:
        out_dir (Path): Root folder of the set.
        split (str): 'train' or 'val'.
        num_images (int): Images in this split.
        seed (int): Seed of this split's random stream.
        height (int): Image height in pixels.
        width (int): Image width in pixels.
        max_instances (int): Instances per image are drawn from
            ``[2, max_instances]``.

    Returns:
        dict: The COCO dictionary written.
    """
    rng = np.random.default_rng(seed)
    image_dir = out_dir / split
    image_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        image, instances = _draw_instances(
            rng,
            _background(rng, height, width),
            num_instances=int(rng.integers(2, max_instances + 1)))
        file_name = f'{image_id - 1:06d}.png'
        cv2.imwrite(str(image_dir / file_name), image)
        images.append(
            dict(id=image_id, file_name=file_name, height=height, width=width))
        for label, geometry in instances:
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=CLASSES.index(label) + 1,
                    iscrowd=0,
                    **geometry))
    coco = dict(
        info=dict(description=f'mmgroupmamba drawn shapes, {split}, '
                  f'seed {seed}'),
        images=images,
        annotations=annotations,
        categories=[
            dict(id=i + 1, name=name, supercategory='shape')
            for i, name in enumerate(CLASSES)
        ])
    ann_dir = out_dir / 'annotations'
    ann_dir.mkdir(parents=True, exist_ok=True)
    (ann_dir / f'instances_{split}.json').write_text(json.dumps(coco))
    return coco


def make_coco_data(out_dir, seed=0, num_train=48, num_val=16, height=192,
                   width=256, max_instances=5):
    """Write the train and val splits under ``out_dir``; see the module doc.

    The two splits use independent streams derived from ``seed``, so changing
    ``num_train`` does not change the val images (:func:`.make_train_val`).

    Args:
        out_dir (str | Path): Root folder of the set (created if needed).
        seed (int): Seed of the whole set. Defaults to 0.
        num_train (int): Training images. Defaults to 48.
        num_val (int): Validation images. Defaults to 16.
        height (int): Image height in pixels. Defaults to 192.
        width (int): Image width in pixels. Defaults to 256.
        max_instances (int): Most instances per image (at least 2, the
            fewest). Defaults to 5.

    Returns:
        dict[str, dict]: The COCO dictionaries, by split.
    """
    if max_instances < 2:
        raise ValueError(f'max_instances must be >= 2, got {max_instances}')
    return make_train_val(make_split, seed, num_train, num_val,
                          out_dir=Path(out_dir), height=height, width=width,
                          max_instances=max_instances)

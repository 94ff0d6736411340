"""The demo that ``tools/demo.py`` runs: detection trained briefly on CPU, or
the path of an official classification checkpoint (see the tool's doc).

Both print what they do. mmdet (detection) or mmpretrain (classification)
must be installed.
"""
import time
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image, ImageDraw

from ..checkpoint import mm_to_official
from ..checkpoint.convert import convert_official_checkpoint
from ..datasets import make_coco_data
from ..model_zoo import MIM_ROOT
from .learning import LEARNING_CONFIG, learning_config, train_and_evaluate


def make_images(folder, size=(320, 240)):
    """Draw four simple test pictures; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    ramp = np.linspace(0, 255, w, dtype=np.uint8)
    pictures = {
        'gradient': np.stack([np.tile(ramp, (h, 1))] * 3, axis=-1),
        'stripes': np.stack([(np.indices((h, w))[1] // 16 % 2) * 255] * 3,
                            axis=-1).astype(np.uint8),
        'checker': np.stack([((np.indices((h, w)) // 24).sum(0) % 2) * 200] *
                            3, axis=-1).astype(np.uint8),
    }
    paths = []
    for name, array in pictures.items():
        paths.append(folder / f'{name}.png')
        Image.fromarray(array).save(paths[-1])
    circles = Image.new('RGB', size, (30, 90, 160))
    draw = ImageDraw.Draw(circles)
    for i in range(6):
        draw.ellipse([20 + 45 * i, 40 + 20 * (i % 3), 90 + 45 * i,
                      110 + 20 * (i % 3)], fill=(230, 40 * i, 60))
    paths.append(folder / 'circles.png')
    circles.save(paths[-1])
    return paths


def seeded_official_checkpoint(config, path, seed):
    """Save the classifier of ``config`` with the official random init under
    ``seed``, in the official key layout, at ``path``."""
    from mmpretrain.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(config).model)
    torch.save(mm_to_official(model.state_dict()), path)


def classification_demo(work_dir, seed=0, official=None):
    """The classification demo (see the module doc); prints each step.

    Args:
        work_dir (str | Path): Where the checkpoints and images go.
        seed (int): Seed of the random official-layout weights. Defaults
            to 0.
        official (str | Path | None): An official GroupMamba-T checkpoint
            to use instead of seeded weights. Defaults to None.
    """
    from mmpretrain import ImageClassificationInferencer
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    config = MIM_ROOT / 'configs' / 'groupmamba_t_in1k.py'
    if official is None:
        official = work_dir / f'groupmamba_tiny_seed{seed}_official.pth'
        seeded_official_checkpoint(config, official, seed)
        print(f'seeded official-layout weights: {official}')
    converted = work_dir / 'groupmamba_t_in1k_converted.pth'
    convert_official_checkpoint(official, converted)
    print(f'converted for mmpretrain: {converted}')

    images = make_images(work_dir / 'images')
    start = time.perf_counter()
    inferencer = ImageClassificationInferencer(
        model=str(config), pretrained=str(converted), device='cpu')
    loaded = time.perf_counter()
    results = inferencer([str(p) for p in images], batch_size=len(images))
    done = time.perf_counter()

    classes = inferencer.classes
    for path, result in zip(images, results):
        scores = np.asarray(result['pred_scores'])
        top5 = np.argsort(scores)[::-1][:5]
        ranked = ', '.join(f'{classes[i].split(",")[0]} {scores[i]:.3f}'
                           for i in top5)
        print(f'{path.name:12s} top-5: {ranked}')
    print(f'model load {loaded - start:.2f} s; {len(images)} images in '
          f'{done - loaded:.2f} s ({torch.get_num_threads()} threads, '
          f'scan backend auto)')


def draw_predictions(work_dir, config_name, iters, images, out_path,
                     score_thr):
    """Reload the trained checkpoint in DetInferencer; save one PNG.

    Args:
        work_dir (Path): The training run's folder (config dump, checkpoint).
        config_name (str): The config file's name in ``work_dir``.
        iters (int): The checkpoint's iteration (``iter_{iters}.pth``).
        images (list[Path]): Images to draw on, four for a 2x2 grid.
        out_path (Path): The PNG to write.
        score_thr (float): Predictions scoring less are not drawn.

    Returns:
        int: Predictions drawn in all.
    """
    from mmdet.apis import DetInferencer
    inferencer = DetInferencer(
        model=str(work_dir / config_name),
        weights=str(work_dir / f'iter_{iters}.pth'),
        device='cpu',
        show_progress=False)
    result = inferencer([str(p) for p in images], return_vis=True,
                        no_save_vis=True, pred_score_thr=score_thr)
    drawings = result['visualization']  # RGB arrays, boxes, masks, labels
    columns = 2
    rows = [np.concatenate(drawings[i:i + columns], axis=1)
            for i in range(0, len(drawings), columns)]
    if len(rows) > 1 and rows[-1].shape != rows[0].shape:
        pad = np.zeros_like(rows[0])
        pad[:, :rows[-1].shape[1]] = rows[-1]
        rows[-1] = pad
    Image.fromarray(np.concatenate(rows, axis=0)).save(out_path)
    return sum(
        sum(score >= score_thr for score in prediction['scores'])
        for prediction in result['predictions'])


def detection_demo(work_dir, seed=0, iters=150, num_train=192, num_val=16,
                   score_thr=0.2):
    """The detection demo (see the module doc); prints each step.

    Args:
        work_dir (str | Path): Where the data, the run and the picture go.
        seed (int): Seed of the data and the run. Defaults to 0.
        iters (int): Training iterations. Defaults to 150.
        num_train (int): Drawn training images. Defaults to 192.
        num_val (int): Drawn validation images. Defaults to 16.
        score_thr (float): Predictions scoring less are not drawn.
            Defaults to 0.2.
    """
    work_dir = Path(work_dir)
    data_root = work_dir / 'data'
    start = time.perf_counter()
    make_coco_data(data_root, seed=seed, num_train=num_train,
                   num_val=num_val)
    cfg = learning_config(data_root, work_dir / 'train', iters, seed)
    print(f'training Mask R-CNN + GroupMamba (small arch) for {iters} '
          f'iterations on {num_train} drawn images, '
          f'{torch.get_num_threads()} thread(s); log: {work_dir / "train"}')
    metrics, seconds = train_and_evaluate(cfg)
    val_images = sorted((data_root / 'val').glob('*.png'))[:4]
    picture = work_dir / 'predictions.png'
    with DefaultScope.overwrite_default_scope('mmdet'):
        drawn = draw_predictions(
            work_dir / 'train', LEARNING_CONFIG.name, iters, val_images,
            picture, score_thr)
    print(f'\nCOCO AP on the {num_val} validation images: '
          f'bbox {metrics["coco/bbox_mAP"]:.3f} '
          f'(AP50 {metrics["coco/bbox_mAP_50"]:.3f}), '
          f'segm {metrics["coco/segm_mAP"]:.3f} '
          f'(AP50 {metrics["coco/segm_mAP_50"]:.3f})')
    print(f'predictions (score >= {score_thr}: {drawn} on '
          f'{len(val_images)} images): {picture}')
    print(f'wall time {time.perf_counter() - start:.0f} s (training '
          f'{seconds["train"]:.0f} s, evaluation {seconds["test"]:.0f} s)')

"""tools/demo.py, the main job: the detection demo (default) and the
classification demo, each run as a user runs it, at a small size."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from PIL import Image


def run_demo(*args):
    """Run tools/demo.py on one thread; return its stdout."""
    result = subprocess.run(
        [sys.executable, 'tools/demo.py', '--threads', '1', *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))  # the shared test machine
    assert result.returncode == 0, result.stdout[-3000:] + \
        result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope='module')
def detection_demo(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('demo_detection')
    # The shortest schedule (12 iterations) on a small set: the demo's steps,
    # not its accuracy (tools/learning_check_det.py measures that).
    out = run_demo('--iters', 12, '--num-train', 8, '--num-val', 4,
                   '--work-dir', work_dir)
    return out, work_dir


def test_detection_demo_prints_coco_ap(detection_demo):
    out, _ = detection_demo
    line = re.search(
        r'COCO AP on the 4 validation images: bbox ([\d.]+) \(AP50 ([\d.]+)\)'
        r', segm ([\d.]+) \(AP50 ([\d.]+)\)', out)
    assert line, out[-2000:]
    assert all(0.0 <= float(value) <= 1.0 for value in line.groups())


def test_detection_demo_saves_the_drawn_predictions(detection_demo):
    out, work_dir = detection_demo
    path = re.search(r'predictions \(score >= 0\.2: (\d+) on 4 images\): '
                     r'(\S+\.png)', out)
    assert path, out[-2000:]
    picture = np.asarray(Image.open(path[2]))
    assert path[2] == str(work_dir / 'predictions.png')
    # A 2x2 grid of the 256x192 validation images, drawn on.
    assert picture.shape == (2 * 192, 2 * 256, 3)
    originals = [
        np.asarray(Image.open(work_dir / 'data' / 'val' / f'{i:06d}.png')
                   .convert('RGB')) for i in range(4)
    ]
    grid = np.concatenate([
        np.concatenate(originals[:2], axis=1),
        np.concatenate(originals[2:], axis=1)
    ])
    changed = np.any(picture != grid, axis=2).mean()
    if int(path[1]):  # predictions drawn: boxes and masks change pixels
        assert changed > 0.01, changed
    else:
        assert changed == 0.0
    # The checkpoint that DetInferencer reloaded.
    assert (work_dir / 'train' / 'iter_12.pth').is_file()


def test_classification_demo_still_available(tmp_path):
    out = run_demo('--task', 'classification', '--work-dir', tmp_path)
    lines = re.findall(r'^(\w+)\.png +top-5: (.*)$', out, flags=re.M)
    assert [name for name, _ in lines] == [
        'gradient', 'stripes', 'checker', 'circles'
    ]
    for _, ranked in lines:
        scores = [float(s) for s in re.findall(r' (\d\.\d{3})(?:,|$)', ranked)]
        assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    assert (tmp_path / 'groupmamba_t_in1k_converted.pth').is_file()

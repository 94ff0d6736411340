#!/usr/bin/env python
"""Pictures of what GroupMamba does, saved as PNG.

    python tools/visualize.py scan-orders out/scan_orders.png
    python tools/visualize.py features out/features.png --image cat.jpg
    python tools/visualize.py erf out/erf.png --checkpoint groupmamba_t_mm.pth

The drawing is :mod:`mmgroupmamba.visualization`.

* ``scan-orders``: the four directions of a GroupMambaLayer on a small grid,
  drawn from the model's own ``scan_orders`` (the picture is the code).
* ``features``: per stage, the first three principal components of the
  stage map as RGB (a drawn test image when ``--image`` is not given).
* ``erf``: the effective receptive field of each stage.

Without ``--checkpoint`` the weights are the official random initialisation
(seeded): the ERF then shows what the architecture can reach, not what a
trained model uses.
"""
import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('what', choices=['scan-orders', 'features', 'erf'],
                        help='which picture (see above)')
    parser.add_argument('output', help='PNG file to write')
    parser.add_argument('--config',
                        default=str(REPO / 'configs' / 'groupmamba_t_in1k.py'),
                        help='the classifier config whose backbone to draw '
                        '(default: configs/groupmamba_t_in1k.py)')
    parser.add_argument('--checkpoint',
                        help='converted or official weights, loaded strictly '
                        'into the backbone (default: seeded random weights)')
    parser.add_argument('--image', help='an image for `features` (default: '
                        'a drawn picture)')
    parser.add_argument('--num-images', type=int, default=4,
                        help='drawn images averaged for `erf` (default: 4)')
    args = parser.parse_args()
    from mmgroupmamba.visualization import (build_backbone, demo_images,
                                            draw_erf, draw_features,
                                            draw_scan_orders, load_image)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    if args.what == 'scan-orders':
        draw_scan_orders(args.output)
    else:
        backbone = build_backbone(args.config, args.checkpoint)
        if args.what == 'features':
            image = (load_image(args.image)
                     if args.image else demo_images(1))
            draw_features(args.output, backbone, image)
        else:
            draw_erf(args.output, backbone, demo_images(args.num_images))
    print(f'wrote {args.output}')


if __name__ == '__main__':
    main()

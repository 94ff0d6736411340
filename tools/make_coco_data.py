#!/usr/bin/env python
"""Make a small COCO-format instance-segmentation set of drawn shapes.

The set is drawn by :mod:`mmgroupmamba.datasets.drawn_coco` (see its docstring
for the layout); this is its command line.
"""
import argparse


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='folder to write the set into')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the drawing (default: %(default)s)')
    parser.add_argument('--num-train', type=int, default=48,
                        help='training images (default: %(default)s)')
    parser.add_argument('--num-val', type=int, default=16,
                        help='validation images (default: %(default)s)')
    parser.add_argument('--height', type=int, default=192,
                        help='image height in pixels (default: %(default)s)')
    parser.add_argument('--width', type=int, default=256,
                        help='image width in pixels (default: %(default)s)')
    parser.add_argument('--max-instances', type=int, default=5,
                        help='most shapes per image (default: %(default)s)')
    args = parser.parse_args()
    from mmgroupmamba.datasets.drawn_coco import make_coco_data
    splits = make_coco_data(
        args.out_dir,
        seed=args.seed,
        num_train=args.num_train,
        num_val=args.num_val,
        height=args.height,
        width=args.width,
        max_instances=args.max_instances)
    for split, coco in splits.items():
        print(f"{split}: {len(coco['images'])} images, "
              f"{len(coco['annotations'])} instances -> {args.out_dir}")


if __name__ == '__main__':
    main()

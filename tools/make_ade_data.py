#!/usr/bin/env python
"""Make a small ADE20K-format semantic-segmentation set of drawn scenes.

The set is drawn by :mod:`mmgroupmamba.datasets.drawn_ade` (see its docstring
for the layout); this is its command line.
"""
import argparse


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='folder to write the set into')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the drawing (default: %(default)s)')
    parser.add_argument('--num-train', type=int, default=64,
                        help='training images (default: %(default)s)')
    parser.add_argument('--num-val', type=int, default=16,
                        help='validation images (default: %(default)s)')
    parser.add_argument('--height', type=int, default=128,
                        help='image height in pixels (default: %(default)s)')
    parser.add_argument('--width', type=int, default=192,
                        help='image width in pixels (default: %(default)s)')
    args = parser.parse_args()
    from mmgroupmamba.datasets.drawn_ade import CLASS_NAMES, make_ade_data
    splits = make_ade_data(
        args.out_dir,
        seed=args.seed,
        num_train=args.num_train,
        num_val=args.num_val,
        height=args.height,
        width=args.width)
    for split, counts in splits.items():
        total = sum(counts.values())
        shares = ', '.join(
            f'{CLASS_NAMES.get(value, "other")} {count / total:.0%}'
            for value, count in sorted(counts.items()))
        print(f'{split}: {shares} -> {args.out_dir}')


if __name__ == '__main__':
    main()

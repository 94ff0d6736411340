#!/usr/bin/env python
"""Convert an official GroupMamba checkpoint into an mmpretrain checkpoint.

    python tools/convert_official.py groupmamba_tiny_ema.pth groupmamba_t_mm.pth

The input may be a bare state_dict (the official release) or one stored under
'model' or 'state_dict'. The output holds ``{'state_dict': ..., 'meta': ...}``
with the keys of ``configs/groupmamba_{t,s,b}_in1k.py``, so that
``mmpretrain.get_model('configs/groupmamba_t_in1k.py', pretrained=OUT)``
reproduces the official logits. Nothing is written unless every tensor fits a
freshly built model of the detected arch.
"""
import argparse


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='output mmpretrain checkpoint (.pth)')
    args = parser.parse_args()
    from mmgroupmamba.checkpoint.convert import convert_official_checkpoint
    meta = convert_official_checkpoint(args.src, args.dst)
    print(f"{args.src} -> {args.dst}: GroupMamba-{meta['arch']}, "
          f"{meta['num_classes']} classes")


if __name__ == '__main__':
    main()

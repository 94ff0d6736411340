# The detection learning check: the smoke config trained long enough to find
# the drawn shapes of tools/make_coco_data.py, from seeded random weights,
# then evaluated by CocoMetric (bbox and segm) on the made val split. Run it
# through tools/learning_check_det.py (which makes the data and prints AP and
# the wall time); tools/demo.py trains it for fewer iterations.
_base_ = './maskrcnn_groupmamba_t_smoke.py'

# 18 CPU minutes on one thread, measured (docs/user_guides/train_test.md)
max_iters = 400

model = dict(
    # A 5-block model trained from scratch: less stochastic depth than the
    # real config's 0.2 (the UperNet smoke config uses 0.1 for the same arch).
    backbone=dict(drop_path_rate=0.1))

# From random weights the real config's 1e-4 (tuned for ImageNet-initialised
# fine-tuning) moves too slowly for a few hundred iterations.
optim_wrapper = dict(optimizer=dict(lr=3e-4))
# Warm-up over the first 1/12, then cosine decay to zero.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=max_iters // 12),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False,
         begin=max_iters // 12, end=max_iters, T_max=max_iters - max_iters // 12)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_iters))

# The learning check: the smoke config trained long enough to segment the
# drawn scenes of tools/make_ade_data.py (5 of ADE20K's 150 classes), then
# evaluated by IoUMetric on the made val split. On one CPU thread
# (docs/user_guides/train_test.md):
#   python tools/make_ade_data.py data/groupmamba_ade_smoke
#   OMP_NUM_THREADS=1 mim train mmseg configs/smoke/upernet_groupmamba_t_learning.py
_base_ = './upernet_groupmamba_t_smoke.py'

# ~0.25 s an iteration on an idle core (docs/user_guides/train_test.md)
max_iters = 1500

# The smoke schedule (warm-up over 1/10, poly decay to 0) over the longer run.
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=max_iters // 10),
    dict(
        type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False,
        begin=max_iters // 10, end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_iters))

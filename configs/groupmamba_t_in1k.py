# Short name of groupmamba_t_8xb128_in1k.py (the recipe: 8 GPUs x 128 images).
_base_ = './groupmamba_t_8xb128_in1k.py'

"""Measuring code shared by the benchmark tools and the GPU check.

``scan``: the scan inputs, calls and byte counts at GroupMamba-T's stage
shapes; ``models``: whole-model throughput against timm peers
(``tools/benchmark.py``), eager or ``torch.compile``-d; ``dense``: whole
Mask R-CNN / UperNet ``predict`` against mmdet's and mmseg's Swin-T and
ResNet-50 configs (``tools/benchmark_dense.py``); ``machine``: the line
that heads every table (CPU, kernels, threads, torch, allocator); ``timing``: median
timers (wall clock, CUDA events) and the copy bandwidth; ``gpu_check``: the
one-command acceptance check of the Triton kernels and the models on a GPU
(``tools/gpu_check.py``); ``checkpointing``: peak memory and step time of
a backbone training step with and without ``with_cp``
(``tools/benchmark_with_cp.py``).
"""

#!/usr/bin/env bash
# The supported-range tests: create (or reuse) .venv-NAME with tools/setup_env_stack.sh and
# run there what a user of that stack relies on: the backbone, the scan ops (reference, cpu,
# segsum, the compiled CPU kernel built against that torch, and its custom operator where torch
# has them), checkpoint loading and conversion, the model index and the mmpretrain classifier.
#
#   bash tools/test_stack.sh oldest    # Python 3.10, torch 2.1.2
#   bash tools/test_stack.sh py312     # Python 3.12, torch 2.11, Triton 3.6 (+ the interpreted Triton kernels)
#
# The whole suite (detection, segmentation, distillation, export, packaging) runs on the
# pinned stack: bash tools/setup_env.sh && .venv/bin/python -m pytest -q
set -euo pipefail
NAME="${1:?usage: tools/test_stack.sh NAME}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env_stack.sh "$NAME"

TESTS=(tests/test_model.py tests/test_directions.py tests/test_scan_ops.py
       tests/test_cpu_compiled_scan.py tests/test_custom_op.py tests/test_checkpoint.py tests/test_model_zoo.py tests/test_mixed_precision.py
       tests/test_registration.py tests/test_compile.py tests/test_pointwise.py
       tests/test_weights_contract.py tests/test_import_effects.py
       tests/test_gated_norm.py)
# The stack's extra tests: its '# tests:' line in requirements/stacks/NAME.txt.
read -r -a EXTRA <<< "$(sed -n 's/^# tests: *//p' "requirements/stacks/$NAME.txt")"
# mmdet and mmseg are not in these stacks: their registry cases run on the pinned one.
exec ".venv-$NAME/bin/python" -m pytest -q "${TESTS[@]}" "${EXTRA[@]}" \
    -k 'not mmdet and not mmseg'

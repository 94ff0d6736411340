#!/usr/bin/env bash
# Create (or reuse) the virtual environment at .venv/ with everything mmgroupmamba
# needs: pinned torch/torchvision, mmcv 2.1.0 WITH its compiled ops, the OpenMMLab
# stack, and this package in editable mode with its [all,export,tests,docs] extras. Idempotent: a second run only checks.
#
# mmcv publishes no wheel for torch 2.15, so it is built from its PyPI source once
# (about 25 minutes on 2 cores) and the wheel is cached outside the clone under
# ${MMGROUPMAMBA_CACHE:-~/.cache/mmgroupmamba}/wheels/, keyed by torch version and
# by CPU/CUDA build, then reused by every later clone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
CONSTRAINTS="$ROOT/requirements/constraints.txt"
CACHE="${MMGROUPMAMBA_CACHE:-$HOME/.cache/mmgroupmamba}"
PYTHON_BIN="${PYTHON:-python3}"

log() { printf '[setup_env] %s\n' "$*" >&2; }

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtual environment at $VENV"
    "$PYTHON_BIN" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS")

"${PIP[@]}" --upgrade pip wheel 'setuptools<82' ninja
"${PIP[@]}" torch torchvision

# ---- mmcv 2.1.0 with compiled ops -------------------------------------------
mmcv_ok() {
    "$PY" - <<'PY' 2>/dev/null
import mmcv
from mmcv.utils import ext_loader
assert mmcv.__version__ == '2.1.0', mmcv.__version__
ext_loader.load_ext('_ext', ['nms', 'roi_align_forward'])
PY
}

if mmcv_ok; then
    log "mmcv 2.1.0 with compiled ops already installed"
else
    if "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
        FLAVOUR="cuda$("$PY" -c 'import torch; print(torch.version.cuda)')"
        export FORCE_CUDA=1
    else
        FLAVOUR=cpu
    fi
    TORCH_VERSION="$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')"
    WHEEL_DIR="$CACHE/wheels/mmcv-2.1.0-torch$TORCH_VERSION-$FLAVOUR"
    mkdir -p "$WHEEL_DIR"
    if ! ls "$WHEEL_DIR"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
        log "building mmcv 2.1.0 ($FLAVOUR) from source: about 25 minutes on 2 cores"
        BUILD="$(mktemp -d)"
        # The sdist's metadata step imports torch, hence no build isolation.
        "$PY" -m pip download --disable-pip-version-check -q --no-deps \
            --no-binary :all: --no-build-isolation mmcv==2.1.0 -d "$BUILD"
        tar -xzf "$BUILD"/mmcv-2.1.0.tar.gz -C "$BUILD"
        # torch 2.15's headers need C++20; mmcv 2.1.0's setup.py asks for C++17.
        sed -i 's/-std=c++17/-std=c++20/g' "$BUILD/mmcv-2.1.0/setup.py"
        grep -q -- '-std=c++20' "$BUILD/mmcv-2.1.0/setup.py" \
            || { log "could not raise mmcv's C++ standard: setup.py changed?"; exit 1; }
        MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
            "$PY" -m pip wheel --disable-pip-version-check --no-deps \
            --no-build-isolation "$BUILD/mmcv-2.1.0" -w "$BUILD/dist"
        mv "$BUILD"/dist/mmcv-2.1.0-*.whl "$WHEEL_DIR"/
        rm -rf "$BUILD"
    fi
    log "installing cached mmcv wheel from $WHEEL_DIR"
    "${PIP[@]}" "$WHEEL_DIR"/mmcv-2.1.0-*.whl
    mmcv_ok || { log "mmcv installed but its compiled ops do not load"; exit 1; }
fi

# ---- the OpenMMLab stack, test tools and this package -----------------------
# The package's own extras name the libraries; the constraints file pins them.
"${PIP[@]}" --no-build-isolation -e "$ROOT[all,export,tests,docs]"

# ---- the compiled CPU scan ---------------------------------------------------
# Built now into torch's extension cache rather than at the first CPU scan
# (ops/cpu_compiled.py). Without a compiler or ninja the backend is only
# unavailable (auto uses 'cpu'): the reason is logged, setup goes on.
log "building the compiled CPU scan (cpu_compiled): about 20-40 s"
"$PY" -c "from mmgroupmamba.ops import available_backends
status = available_backends('cpu')['cpu_compiled']
print('cpu_compiled:', 'available' if status.available else status.reason)"
log "environment ready: $VENV"

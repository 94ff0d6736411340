#!/usr/bin/env bash
# Create (or reuse) a second virtual environment, .venv-NAME/, on another supported stack
# than the pinned one of tools/setup_env.sh, for the tests that check the supported range:
#
#   bash tools/setup_env_stack.sh oldest   # Python 3.10, torch 2.1.2, mmengine 0.10.3, mmpretrain
#   bash tools/setup_env_stack.sh py312    # Python 3.12, torch 2.11, Triton 3.6 (the GPU machines' stack)
#
# requirements/stacks/NAME.txt is the stack: its '# python: X.Y' line names the interpreter,
# the rest are pins used as a constraints file. The venv gets torch, torchvision, mmcv-lite
# (mmcv without compiled ops: a pure-Python wheel, enough for mmpretrain's classifier) and this
# package in editable mode with its [cls] and [tests] extras. Idempotent.
#
# The interpreter: pythonX.Y on PATH, else pyenv's newest X.Y; PYTHON overrides both.
set -euo pipefail

NAME="${1:?usage: tools/setup_env_stack.sh NAME (one of: $(ls "$(dirname "$0")/../requirements/stacks" | sed 's/\.txt$//' | tr '\n' ' '))}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="$ROOT/requirements/stacks/$NAME.txt"
VENV="$ROOT/.venv-$NAME"

log() { printf '[setup_env_stack %s] %s\n' "$NAME" "$*" >&2; }

[[ -f "$STACK" ]] || { log "no stack file $STACK"; exit 2; }
PYVER="$(sed -n 's/^# python: *\([0-9.]*\).*/\1/p' "$STACK")"
[[ -n "$PYVER" ]] || { log "$STACK has no '# python: X.Y' line"; exit 2; }

find_python() {
    if [[ -n "${PYTHON:-}" ]]; then echo "$PYTHON"; return; fi
    if python$PYVER -c '' 2>/dev/null; then command -v python$PYVER; return; fi
    local root candidate
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for candidate in $(ls -d "$root"/versions/$PYVER.* 2>/dev/null | sort -V -r); do
        if "$candidate/bin/python$PYVER" -c '' 2>/dev/null; then
            echo "$candidate/bin/python$PYVER"; return
        fi
    done
    log "Python $PYVER not found: install it (e.g. pyenv install $PYVER) or set PYTHON"
    exit 2
}

if [[ ! -x "$VENV/bin/python" ]]; then
    PYTHON_BIN="$(find_python)"
    log "creating $VENV with $PYTHON_BIN"
    "$PYTHON_BIN" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -c "import sys; v = '%d.%d' % sys.version_info[:2]; assert v == '$PYVER', f'{v} != $PYVER: remove $VENV'"
PIP=("$PY" -m pip install --disable-pip-version-check -q -c "$STACK")

"${PIP[@]}" --upgrade pip wheel 'setuptools<82'
"${PIP[@]}" torch torchvision mmcv-lite
"${PIP[@]}" --no-build-isolation -e "$ROOT[cls,tests]"
log "environment ready: $VENV ($("$PY" -c 'import sys, torch; print("Python", sys.version.split()[0], "torch", torch.__version__)'))"

#!/usr/bin/env bash
# Installs what flowers-mobile needs: a virtualenv in .venv with the pinned Python packages, and
# the test fixtures. Needs no root: `make demo` runs on a bare machine with Python 3.10-3.13.
# (`make test`'s Kotlin part installs its Debian packages itself: tools/test_kotlin.sh.)
#
#   PYTHON=/path/to/python3.X   use this Python (default: the newest supported one that runs)
#   TASK_LIBRARY=1              also the Task Library runtime (tflite-support 0.4.4, Python <= 3.11;
#                               its native code needs Debian's libusb-1.0-0, installed with apt)
#   tools/setup.sh --print-python   only print the Python it would use (tests/test_setup.py)
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

print_python=0; [ "${1:-}" = --print-python ] && print_python=1

need_debs=()
if [ "$print_python" = 0 ] && [ "${TASK_LIBRARY:-0}" = 1 ]; then
  [ -e /usr/lib/x86_64-linux-gnu/libusb-1.0.so.0 ] || ldconfig -p 2>/dev/null | grep -q libusb-1.0.so.0 || need_debs+=(libusb-1.0-0)
fi
if [ ${#need_debs[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_debs[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >/dev/null; }; then
    echo "setup: warning: could not install ${need_debs[*]} (no apt or no root); see README troubleshooting" >&2
  fi
fi

# The newest supported Python that really runs: a pyenv shim of a version that is not selected
# exists on PATH but fails, so each candidate is run, not just looked up.
supported='import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)'
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.13 python3.12 python3.11 python3.10 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "$supported" >/dev/null 2>&1; then PY="$cand"; break; fi
  done
  if [ -z "$PY" ]; then
    echo "setup: no Python 3.10-3.13 found (tried python3.13 ... python3.10, python3). Install one (Debian/Ubuntu: apt install python3 python3-venv) or set PYTHON=/path/to/python3" >&2
    exit 2
  fi
elif ! "$PY" -c "$supported" >/dev/null 2>&1; then
  said=$("$PY" --version 2>&1 || true); said=${said%%$'\n'*}
  echo "setup: PYTHON=$PY does not run as Python 3.10-3.13 ($said); set PYTHON to one that does" >&2
  exit 2
fi
if [ "$print_python" = 1 ]; then echo "$PY"; exit 0; fi
py_version() { "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])'; }
if [ -x .venv/bin/python ] && [ "$(py_version .venv/bin/python)" != "$(py_version "$PY")" ]; then
  # An existing .venv is kept (it may hold more than we install); say which Python really runs.
  echo "setup: using .venv's Python $(py_version .venv/bin/python), made earlier ($PY is $(py_version "$PY"); rm -rf .venv to switch)"
else
  echo "setup: using Python $(py_version "$PY") ($(command -v "$PY" || echo "$PY"))"
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv >/dev/null 2>&1; then
    rm -rf .venv
    echo "setup: $PY cannot make a virtualenv (Debian/Ubuntu: apt install python3-venv)" >&2
    exit 2
  fi
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
extras="dev"
[ "${TASK_LIBRARY:-0}" = 1 ] && extras="dev,task-library"
.venv/bin/python -m pip install -q -c constraints.txt -e ".[$extras]"
# The Task Library (optional): tflite-support 0.4.4 (2023, the last release) declares protobuf<4,
# a bound that is stale for what we use: its metadata module runs unchanged on protobuf 6 (upb),
# and its Task Library runs in a subprocess that selects the pure-Python protobuf
# (runtimes/task_library.py). So it is installed without its dependencies; the task-library extra
# lists the others. `pip check` then reports exactly this one bound: expected, see docs/stack.md.
if [ "${TASK_LIBRARY:-0}" = 1 ]; then
  if .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info[:2] <= (3, 11) else 1)' \
      && { [ "$(uname -s)" != "Darwin" ] || [ "$(uname -m)" = "x86_64" ]; }; then
    .venv/bin/python -m pip install -q --no-deps tflite-support==0.4.4
  else
    echo "setup: TASK_LIBRARY=1 ignored: tflite-support 0.4.4 has wheels for Python <= 3.11 on Linux x86_64/Intel macOS only" >&2
  fi
fi
.venv/bin/python - <<'PROTOCHECK'
from google.protobuf.internal import api_implementation
impl = api_implementation.Type()
if impl != "upb":
    raise SystemExit(f"setup: protobuf runs its '{impl}' implementation, expected 'upb' (compiled); reinstall with: .venv/bin/pip install -c constraints.txt -e .[dev]")
PROTOCHECK
# The real pretrained model and photographs some tests and benchmarks use (.cache/fixtures/, sha256
# checked). Offline it says what is missing and setup goes on; with CI=true a failure stops setup.
.venv/bin/python tools/fetch_fixtures.py
touch .venv/.installed
echo "setup: ready (.venv, $(.venv/bin/python --version))"

#!/usr/bin/env bash
# Installs what flowers-mobile needs on a fresh Debian/Ubuntu machine: the Debian packages
# (libusb-1.0-0 for tflite-support's native code; kotlin, junit4 and Gson (libgoogle-gson-java) for the Android app's pure-Kotlin
# tests), a virtualenv in .venv, and the pinned Python packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_debs=()
[ -e /usr/lib/x86_64-linux-gnu/libusb-1.0.so.0 ] || ldconfig -p 2>/dev/null | grep -q libusb-1.0.so.0 || need_debs+=(libusb-1.0-0)
command -v kotlinc >/dev/null 2>&1 || need_debs+=(kotlin)
[ -e /usr/share/java/junit4.jar ] || need_debs+=(junit4)
[ -e /usr/share/java/gson.jar ] || need_debs+=(libgoogle-gson-java)
if [ ${#need_debs[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_debs[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >/dev/null; }; then
    echo "setup: warning: could not install ${need_debs[*]} (no apt or no root); see README troubleshooting" >&2
  fi
fi

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3.10 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY="$cand"; break; fi
  done
fi
"$PY" - <<'PYCHECK'
import sys
if not ((3, 10) <= sys.version_info[:2] <= (3, 11)):
    sys.exit(f"setup: Python 3.10 or 3.11 is needed (tflite-support 0.4.4 and TF 2.19 wheels); found {sys.version.split()[0]}. Set PYTHON=/path/to/python3.11")
PYCHECK
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -c constraints.txt -e ".[dev]"
# tflite-support 0.4.4 (2023, the last release) declares protobuf<4. That bound is stale for what
# we use: its metadata writers run unchanged on protobuf 5 (upb), and its Task Library runs in a
# subprocess that selects the pure-Python protobuf (runtimes/task_library.py). So it is installed
# without its dependencies; pyproject.toml lists the others. `pip check` reports exactly this one
# bound ("tflite-support 0.4.4 has requirement protobuf<4"): expected, see docs/stack.md.
# Apple silicon has no wheel: there the metadata writers and the Task Library check are absent.
if [ "$(uname -s)" != "Darwin" ] || [ "$(uname -m)" = "x86_64" ]; then
  .venv/bin/python -m pip install -q --no-deps tflite-support==0.4.4
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

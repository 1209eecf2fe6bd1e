#!/usr/bin/env bash
# The Debian packages the Python tests need beyond the virtualenv: MediaPipe Tasks' native library
# links libEGL.so.1 and libGLESv2.so.2 (its GPU path, loaded even on CPU), which a bare Debian or
# Ubuntu lacks. `make demo` does not need them (parity then checks flowers.tflite with LiteRT alone);
# the tests prove the metadata through MediaPipe, so `make test` installs them (sudo when not root).
# Missing after apt: a warning and exit 0, except in CI (CI=true), where it is a failure.
set -euo pipefail
need=()
ldconfig -p 2>/dev/null | grep -q 'libEGL.so.1 ' || need+=(libegl1)
ldconfig -p 2>/dev/null | grep -q 'libGLESv2.so.2 ' || need+=(libgles2)
[ ${#need[@]} -eq 0 ] && exit 0
echo "test-debs: installing Debian packages ${need[*]} (MediaPipe Tasks links libEGL and libGLESv2)"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; then
  echo "test-debs: could not install ${need[*]}: the MediaPipe tests will skip (apt install ${need[*]})" >&2
  [ "${CI:-}" = true ] && exit 1
fi
exit 0

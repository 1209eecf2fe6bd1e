#!/usr/bin/env bash
# The Debian packages `make test` needs beyond the virtualenv, installed in one apt-get run (one
# index update; sudo when not root), before the suites start side by side:
# - libegl1, libgles2: MediaPipe Tasks' native library links libEGL.so.1 and libGLESv2.so.2 (its
#   GPU path, loaded even on CPU), which a bare Debian or Ubuntu lacks. `make demo` does not need
#   them (parity then checks flowers.tflite with LiteRT alone); the tests prove the metadata
#   through MediaPipe.
# - qemu-user, gcc, libc6-dev, debootstrap: the ARM cost runner's arm64 root and its counting
#   plugin (tools/fetch_arm_root.py, `make arm-root`; dpkg-deb comes with every Debian).
# - kotlin, junit4, libgoogle-gson-java: the Android app's pure-Kotlin module and its JUnit tests
#   (tools/test_kotlin.sh, which also installs them when run alone).
# Missing after apt: a warning and exit 0 (each suite then says what it lacks), except in CI
# (CI=true), where it is a failure.
set -euo pipefail
need=()
ldconfig -p 2>/dev/null | grep -q 'libEGL.so.1 ' || need+=(libegl1)
ldconfig -p 2>/dev/null | grep -q 'libGLESv2.so.2 ' || need+=(libgles2)
command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
{ command -v gcc >/dev/null 2>&1 && [ -f /usr/include/stdio.h ]; } || need+=(gcc libc6-dev)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
{ command -v kotlinc >/dev/null 2>&1 && command -v java >/dev/null 2>&1; } || need+=(kotlin)
[ -e /usr/share/java/junit4.jar ] && [ -e /usr/share/java/hamcrest-core.jar ] || need+=(junit4)
[ -e /usr/share/java/gson.jar ] || need+=(libgoogle-gson-java)
[ ${#need[@]} -eq 0 ] && exit 0
echo "test-debs: installing Debian packages ${need[*]} (MediaPipe's libEGL/libGLESv2, the ARM cost runner, the Kotlin suite)"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; then
  echo "test-debs: could not install ${need[*]}: the tests that need them will say so (apt install ${need[*]})" >&2
  [ "${CI:-}" = true ] && exit 1
fi
exit 0

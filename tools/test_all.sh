#!/usr/bin/env bash
# `make test` after setup: the apps' suites (tools/test_swift.sh, tools/test_kotlin.sh) run in the
# background while pytest runs in the foreground. pytest's two workers leave about a third of the
# two cores idle (TensorFlow start-up, file and process waits), enough for the Swift build (about
# 40 s from a clean clone, mostly waiting) and kotlinc; run one after the other they added that
# much to the wall time. The apps' output is printed whole after pytest's, each under its name.
# Exit status: non-zero when any of the three failed.
#
# Usage: tools/test_all.sh [PYTEST_WORKERS]   (default 2; 0 runs pytest in one process)
set -uo pipefail
cd "$(dirname "$0")/.."
workers="${1:-2}"

logs="$(mktemp -d "${TMPDIR:-/tmp}/flowers-apps.XXXXXX")"
trap 'rm -rf "$logs"' EXIT
pids=()
for app in swift kotlin; do
  ( bash "tools/test_$app.sh" >"$logs/$app.log" 2>&1; echo $? >"$logs/$app.rc" ) &
  pids+=($!)
done
echo "test: the Swift and Kotlin suites run in the background; their output follows pytest's"

.venv/bin/python -m pytest -q -n "$workers" --dist loadgroup
py=$?

wait "${pids[@]}"
status=$py
for app in swift kotlin; do
  echo
  echo "== $app (tools/test_$app.sh)"
  cat "$logs/$app.log"
  rc="$(cat "$logs/$app.rc" 2>/dev/null || echo 1)"
  [ "$rc" -eq 0 ] || { echo "test: the $app suite failed (exit $rc)" >&2; status=1; }
done
exit "$status"

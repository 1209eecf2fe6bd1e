#!/usr/bin/env bash
# Builds and tests FlowersCore, the iOS app's platform-independent Swift package
# (ios_app/FlowersCore), with `swift build` and `swift test`. Runs on Linux (Swift 6.x toolchain,
# Foundation and XCTest) and on macOS.
#
# No Swift toolchain: prints "swift: skipped (no Swift toolchain)" and exits 0, except under CI
# (CI=true), where a missing toolchain is a failure. The last line is always a plain summary:
#   swift: N passed, M failed
#
# Environment:
#   SWIFT_SCRATCH       build folder (default .build/swift/FlowersCore; .build/ is git-ignored)
#   SWIFT_WERROR=0      do not turn compiler warnings (strict-concurrency ones included) into errors
set -euo pipefail
cd "$(dirname "$0")/.."

# The JSON cases shared with pytest and the Android JUnit suite (SharedVectorsTests.swift also
# finds them from its own path, for Xcode runs).
export FLOWERS_VECTORS="$PWD/tests/vectors"

PACKAGE=ios_app/FlowersCore
SCRATCH="${SWIFT_SCRATCH:-.build/swift/FlowersCore}"

if ! command -v swift >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "swift: no Swift toolchain on PATH, and CI=true requires one (Linux: swift.org toolchain, see docs/stack.md; macOS: Xcode)" >&2
    exit 1
  fi
  echo "swift: skipped (no Swift toolchain)"
  exit 0
fi

flags=()
if [ "${SWIFT_WERROR:-1}" != "0" ]; then
  # FlowersCore enables Swift 6's concurrency checking; a warning here is a data race to fix.
  flags+=(-Xswiftc -warnings-as-errors)
fi

echo "swift: $(swift --version 2>&1 | head -n 1)"
start=$SECONDS
# --build-tests builds the test bundle too, so `swift test` below only runs it.
if ! swift build --package-path "$PACKAGE" --scratch-path "$SCRATCH" --build-tests "${flags[@]}"; then
  echo "swift: swift build failed for $PACKAGE (see the compiler output above)" >&2
  echo "swift: 0 passed, 1 failed"
  exit 1
fi
built=$SECONDS

log="$(mktemp "${TMPDIR:-/tmp}/flowers-swift-test.XXXXXX")"
trap 'rm -f "$log"' EXIT
set +e
swift test --package-path "$PACKAGE" --scratch-path "$SCRATCH" --skip-build 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# XCTest's overall line, e.g. "Executed 88 tests, with 0 failures (0 unexpected) in 1.1 (1.1) seconds"
# or "Executed 5 tests, with 1 test skipped and 0 failures (0 unexpected) ...": the last one is
# the "All tests" suite.
summary="$(grep -E 'Executed [0-9]+ tests?, with' "$log" | tail -n 1 || true)"
if [ -z "$summary" ]; then
  echo "swift: no XCTest summary in the output (swift test exit status $status)" >&2
  echo "swift: 0 passed, 1 failed"
  exit 1
fi
executed="$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")"
failed="$(sed -E 's/.* ([0-9]+) failures?.*/\1/' <<<"$summary")"
skipped=0
if grep -qE '[0-9]+ tests? skipped' <<<"$summary"; then
  skipped="$(sed -E 's/.* ([0-9]+) tests? skipped.*/\1/' <<<"$summary")"
fi
passed=$((executed - failed - skipped))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1  # the runner failed outside a test (crash, build step): count it
fi

echo "swift: build $((built - start)) s, test $((SECONDS - built)) s"
if [ "$skipped" -gt 0 ]; then
  echo "swift: $skipped skipped"
fi
echo "swift: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]

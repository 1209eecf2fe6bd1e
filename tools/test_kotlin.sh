#!/usr/bin/env bash
# Compiles the Android app's pure-Kotlin module (android_app/core: main + tests, no Android
# imports) with Debian's kotlinc and runs its JUnit 4 tests (Gson from Debian's libgoogle-gson-java,
# the library the Gradle build takes from Maven; the shared cases in tests/vectors/ included). The app itself needs the Android SDK
# and is built by .github/workflows/android.yml; this is the part that builds on any machine.
#
# Missing kotlinc/junit4/gson: installed through apt (sudo when not root). Still missing: "skipped"
# and exit 0, except in CI (CI=true), where a skipped suite is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

CORE=android_app/core
JUNIT_JAR=/usr/share/java/junit4.jar
HAMCREST_JAR=/usr/share/java/hamcrest-core.jar
GSON_JAR=/usr/share/java/gson.jar
VECTORS="$PWD/tests/vectors"

have_tools() {
  command -v kotlinc >/dev/null 2>&1 && command -v java >/dev/null 2>&1 \
    && [ -e "$JUNIT_JAR" ] && [ -e "$HAMCREST_JAR" ] && [ -e "$GSON_JAR" ]
}

if ! have_tools; then
  echo "kotlin: kotlinc, junit4 or gson missing; installing Debian's kotlin, junit4 and libgoogle-gson-java"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  { $SUDO apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends kotlin junit4 libgoogle-gson-java >/dev/null; } \
    || echo "kotlin: apt-get install kotlin junit4 libgoogle-gson-java failed" >&2
fi
if ! have_tools; then
  echo "kotlin: skipped (kotlinc/junit4/gson not installed)"
  if [ "${CI:-}" = "true" ]; then
    echo "kotlin: CI=true, so a skipped Kotlin suite is a failure" >&2
    exit 1
  fi
  exit 0
fi

# kotlin-stdlib: kotlinc puts it on its own compile classpath; the test run needs it explicitly.
STDLIB=""
for cand in /usr/share/java/kotlin-stdlib.jar "$(dirname "$(readlink -f "$(command -v kotlinc)")")/../lib/kotlin-stdlib.jar"; do
  if [ -e "$cand" ]; then STDLIB="$cand"; break; fi
done
if [ -z "$STDLIB" ]; then
  echo "kotlin: kotlin-stdlib.jar not found next to kotlinc" >&2
  exit 1
fi

OUT="$(mktemp -d "${TMPDIR:-/tmp}/flowers-kotlin.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT
CP="$JUNIT_JAR:$HAMCREST_JAR:$GSON_JAR"

mapfile -t SOURCES < <(find "$CORE/src/main/kotlin" "$CORE/src/test/kotlin" -name '*.kt' | sort)
echo "kotlin: compiling ${#SOURCES[@]} files of $CORE with $(kotlinc -version 2>&1 | grep -o 'kotlinc-jvm [^ ]*' || echo kotlinc)"
start=$(date +%s)
# One kotlinc run for main + tests: kotlinc's start-up dominates on small modules. C1-only JIT
# (TieredStopAtLevel=1) and a larger heap than the launcher's 256M default halve the compile time
# on 2 cores (about 50 s -> 25 s). The JDK 13+ warning about -Xverify:none comes from Debian's
# launcher script, not from our code.
if ! JAVA_OPTS="${KOTLINC_JAVA_OPTS:--Xmx1g -Xms256m -XX:TieredStopAtLevel=1}" kotlinc -nowarn -jvm-target 1.8 -cp "$CP" -d "$OUT" "${SOURCES[@]}" 2> >(grep -v -- '-Xverify:none' >&2); then
  echo "kotlin: compilation failed"
  echo "kotlin: 0 passed, 1 failed"
  exit 1
fi
echo "kotlin: compiled in $(( $(date +%s) - start )) s"

mapfile -t CLASSES < <(cd "$OUT" && find . -name '*Test.class' ! -name '*$*' | sed -e 's|^\./||' -e 's|\.class$||' -e 's|/|.|g' | sort)
if [ ${#CLASSES[@]} -eq 0 ]; then
  echo "kotlin: no test classes found under $CORE/src/test/kotlin"
  echo "kotlin: 0 passed, 1 failed"
  exit 1
fi

set +e
java -Dflowers.vectors="$VECTORS" -cp "$OUT:$CP:$STDLIB" org.junit.runner.JUnitCore "${CLASSES[@]}" | tee "$OUT/junit.log"
rc=${PIPESTATUS[0]}
set -e

total=0; failed=0
if ok_line=$(grep -E '^OK \([0-9]+ tests?\)' "$OUT/junit.log"); then
  total=$(echo "$ok_line" | grep -oE '[0-9]+' | head -1)
elif fail_line=$(grep -E '^Tests run: [0-9]+, +Failures: [0-9]+' "$OUT/junit.log"); then
  total=$(echo "$fail_line" | grep -oE '[0-9]+' | sed -n 1p)
  failed=$(echo "$fail_line" | grep -oE '[0-9]+' | sed -n 2p)
fi
[ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "kotlin: $(( total - failed )) passed, $failed failed"
exit "$rc"

"""Forwards what a process writes to its descriptor 2, leaving out TensorFlow's and LiteRT's native
log lines (`tf_quiet.filter_native_logs` starts it). Run as a script with only the standard
library: stdin is the pipe, stdout the real stderr. It reads until every writer has closed the
pipe, so whatever a crashing parent wrote last (a fatal log line, a traceback) still comes out.
"""

import os
import re
import sys

#: Native log lines no user asked for. absl (TF >= 2.20 and LiteRT: "I0000 00:00:... port.cc:153]")
#: info, warning and error lines (fatal ones stay); TF's older "2026-12-04 ...: I tensorflow/..." ones;
#: absl's notice that it logs before being initialised; the cpu_feature_guard line's second line;
#: TFLite's minimal logger at INFO and WARNING ("INFO: Created TensorFlow Lite XNNPACK delegate").
NOISE = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\s:]+:\d+\] "
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] \S+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags"
    rb"|(?:INFO|WARNING): )")
#: A partial line that may become a noise line: held until its newline comes.
MAYBE = re.compile(rb"^(?:[IWE]\d|\d{4}-|WARNING|INFO|To enable)")


def main() -> int:
    held = b""
    out = sys.stdout.fileno()
    while True:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        held += chunk
        *lines, held = held.split(b"\n")
        keep = b"".join(line + b"\n" for line in lines if not NOISE.match(line))
        if held and not MAYBE.match(held[:16]):
            keep, held = keep + held, b""  # a prompt or a live display's frame: now
        if keep:
            os.write(out, keep)
    if held and not NOISE.match(held):
        os.write(out, held)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""labels.txt: UTF-8, one label per line, in output-index order, no blank lines.

One leading UTF-8 byte-order mark (Windows editors write one) is dropped rather than kept in the
first label; CRLF line ends are accepted, a lone CR is not a line end. Both apps read labels files by the same rules
(tests/vectors/labels.json holds the cases all three check).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from flowers_mobile.errors import UserError
from flowers_mobile.fsutil import atomic_write_text


def validate_labels(labels: Sequence[str], where: str = "labels") -> list[str]:
    """Return the labels as a list, or raise UserError for empty, blank, duplicate or multi-line ones."""
    labels = list(labels)
    if not labels:
        raise UserError(f"{where} is empty", hint="give one label per line, in output-index order")
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        if not label.strip():
            raise UserError(f"{where}: line {i + 1} is blank", hint="remove blank lines; one label per line")
        if label != label.strip() or "\n" in label or "\r" in label:
            raise UserError(f"{where}: line {i + 1} ({label!r}) has surrounding whitespace or a line break")
        if label in seen:
            raise UserError(f"{where}: label {label!r} appears twice (lines {seen[label] + 1} and {i + 1})",
                            hint="labels must be unique")
        seen[label] = i
    return labels


def read_labels(path: str | os.PathLike[str]) -> list[str]:
    """Read and validate a labels file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"labels file not found: {path}", hint="pass --labels or put labels.txt beside the model")
    try:
        # Bytes, not text mode: universal newlines would turn a lone "\r" into a line break, which
        # the apps reject. "utf-8-sig" drops one leading byte-order mark.
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"labels file {path} is not UTF-8 ({exc.reason})") from exc
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]  # one trailing newline is normal
    lines = [line.rstrip("\r") for line in lines]
    return validate_labels(lines, where=str(path))


def write_labels(path: str | os.PathLike[str], labels: Sequence[str]) -> Path:
    labels = validate_labels(labels)
    return atomic_write_text(path, "\n".join(labels) + "\n")

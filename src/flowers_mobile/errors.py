"""Errors the CLI turns into one clear line and an exit code.

Library code raises `UserError` for anything the user can fix (a bad path, a malformed
config, labels that do not match a model). The message says what was wrong, where, and what
to do. The CLI prints it on one line and exits with `exit_code`.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input: printed as one line, exit code 2, nothing written."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = self.message.rstrip(".")
        if self.hint:
            hint = self.hint.rstrip(".")
            text = f"{text}. {hint[:1].upper()}{hint[1:]}"
        return " ".join(text.split()) + "."


class CheckFailed(Exception):
    """A check ran to the end and found problems (data check errors, parity below threshold).

    Exit code 1: the input was valid, the result is not good enough.
    """

    exit_code = 1


def first_line(exc: BaseException, default: str | None = None) -> str:
    """The first line of an exception's message, for one-line errors that wrap it.

    A message with no text gives `default`, or the exception's type name when that is None.
    """
    text = str(exc).strip()
    if text:
        return text.splitlines()[0]
    return type(exc).__name__ if default is None else default

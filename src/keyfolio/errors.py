"""Typed errors. Library code raises these; the CLI turns them into one-line messages.

Anything that is the *user's* mistake (bad input file, bad policy, unknown account,
unknown run) is a :class:`KeyfolioError`. Anything else is a bug and may show a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none): the
    reason quoted in a one-line error."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class KeyfolioError(Exception):
    """Base class of every error caused by user input or workspace state."""


class WorkspaceError(KeyfolioError):
    """The workspace folder is missing, not a workspace, or lacks a needed table or run."""


class WorkspaceBusyError(WorkspaceError):
    """Another command is writing to the workspace (it holds the workspace lock)."""


class PolicyError(KeyfolioError):
    """The policy file (keyfolio.toml) is invalid."""


class RuleError(PolicyError):
    """A selection rule expression is invalid or unsafe."""


class ModelError(KeyfolioError):
    """A statistical model got input it cannot use (wrong shapes, negative values, not fitted)."""


@dataclass(frozen=True)
class Problem:
    """One validation problem, located as precisely as the source allows.

    ``row`` is the 1-based line/row number in the *source file* as a user would see it
    in a text editor or spreadsheet (header counts as a row), or ``None`` when the problem
    is about the file or a whole column.
    """

    file: str
    row: int | None
    column: str | None
    expected: str
    found: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column!r}"
        return f"{where}: expected {self.expected}, found {self.found}"


class ImportValidationError(KeyfolioError):
    """An import found problems; nothing was written. ``problems`` lists them all, one a
    line after a heading line; a single problem is one line with the heading."""

    def __init__(self, problems: list[Problem], *, limit: int = 50) -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:  # one problem: one line (the command line's error line)
            super().__init__(f"import failed with 1 problem; nothing was changed: {problems[0]}")
            return
        shown = self.problems[:limit]
        lines = [str(p) for p in shown]
        more = len(self.problems) - len(shown)
        if more > 0:
            lines.append(f"... and {more} more problem(s)")
        head = f"import failed with {len(self.problems)} problem(s); nothing was changed"
        super().__init__(head + "\n" + "\n".join(lines))

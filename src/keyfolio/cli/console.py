"""The one place where text reaches the terminal, and the one error handler.

Everything the CLI prints goes through this module. Text that carries data (account names,
ids, reasons, file paths, values quoted in error messages) is never read as rich markup: it
is printed as :class:`rich.text.Text`, or escaped with :func:`esc` where it is placed into a
line of Keyfolio's own markup. Library errors (:class:`~keyfolio.errors.KeyfolioError`)
become one line on stderr and exit code 1 (:func:`handled`); usage mistakes exit 2 (click).
"""

from __future__ import annotations

import errno
import functools
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import duckdb
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from keyfolio.errors import KeyfolioError, first_line
from keyfolio.workspace import POLICY_FILE, Workspace

console = Console(emoji=False)  # ":smile:" in a name stays as it is
err_console = Console(stderr=True, emoji=False)

P = ParamSpec("P")
R = TypeVar("R")


def esc(value: Any) -> str:
    """Data placed into a line of markup: shown as it is, never interpreted."""
    return escape(str(value))


def say(markup: str) -> None:
    """A line of Keyfolio's own markup (data in it escaped with :func:`esc`)."""
    console.print(markup, soft_wrap=True, highlight=False)


def show(renderable: Any) -> None:
    """A table or other rich renderable (its cells built as Text where they carry data)."""
    console.print(renderable)


def plain(text: str) -> None:
    """Plain text, printed as it is."""
    console.print(Text(text), soft_wrap=True, highlight=False)


def warn(message: str, *, stderr: bool = False) -> None:
    line = Text("warning: ", style="yellow") + Text(message)
    (err_console if stderr else console).print(line, soft_wrap=True, highlight=False)


def fail(message: str) -> NoReturn:
    """A one-line error on stderr and exit code 1."""
    line = Text("error: ", style="bold red") + Text(message)
    err_console.print(line, soft_wrap=True, highlight=False)
    raise typer.Exit(1)


def print_json(obj: Any) -> None:
    """Machine-readable output on stdout (no markup, no colour)."""
    typer.echo(json.dumps(obj, indent=2, default=str))


def handled(fn: Callable[P, R], *, writes: str | None = None) -> Callable[P, R]:
    """A command whose errors end it with one line on stderr (:func:`fail`), never a
    traceback: library errors as they are worded; a file that cannot be read or written
    (read-only folder, full disk) by its path and the system's reason; anything else as an
    internal error (``KEYFOLIO_DEBUG=1`` shows the traceback). ``writes``: the command
    writes to the workspace given as its ``workspace`` argument, so it holds the
    workspace's lock (a second writer fails with who holds it) and reports what it tidied
    after a command that was killed."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            root = kwargs.get("workspace")
            if writes is None or not isinstance(root, Path) or not (root / POLICY_FILE).is_file():
                return fn(*args, **kwargs)
            with Workspace(root).writing(writes) as w:
                for note in w.notes:
                    warn(note, stderr=True)
                return fn(*args, **kwargs)
        except KeyfolioError as exc:
            fail(str(exc))
        except _COMMAND_LINE:  # exits and usage errors: the command line's own
            raise
        except Exception as exc:
            if os.environ.get("KEYFOLIO_DEBUG"):
                raise
            root = kwargs.get("workspace")
            fail(unexpected(exc, root if isinstance(root, Path) else None))

    return wrapper


try:  # typer >= 0.22 carries its own copy of click (click itself is not installed)
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover - older typer on click itself
    from click.exceptions import ClickException as _ClickException  # type: ignore[assignment]

_COMMAND_LINE = (typer.Exit, typer.Abort, _ClickException)


def unexpected(exc: BaseException, workspace: Path | None = None) -> str:
    """One line for an error that is not a Keyfolio error (``workspace``: the command's,
    named when the error itself names no file)."""
    if isinstance(exc, OSError) and exc.strerror:
        what = exc.strerror[0].lower() + exc.strerror[1:]
        if exc.filename is not None:
            return f"{exc.filename}: {what}"
        if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            where = f"{workspace}: " if workspace is not None else ""
            return f"{where}{what} while writing; the command was stopped"
        return what
    if isinstance(exc, OSError | duckdb.IOException) and _SPACE in str(exc).lower():
        return f"no space left on the device ({first_line(exc)})"
    if isinstance(exc, OSError | duckdb.IOException):
        return first_line(exc)
    if isinstance(exc, duckdb.Error):
        return f"the engine (DuckDB) failed: {first_line(exc)}"
    if isinstance(exc, RecursionError | MemoryError):
        what = "nested too deeply" if isinstance(exc, RecursionError) else "out of memory"
        return f"input {what} to process ({type(exc).__name__})"
    return (
        f"internal error, a bug in keyfolio: {type(exc).__name__}: {first_line(exc)} "
        "(KEYFOLIO_DEBUG=1 shows the traceback)"
    )


_SPACE = "no space left"


@contextmanager
def spinner(enabled: bool = True) -> Iterator[Callable[[str], None] | None]:
    """A transient spinner on stderr naming the stage that runs; yields its callback (None
    when stderr is not a terminal: a log gets no spinner frames or stray blank line)."""
    if not enabled or not err_console.is_terminal:
        yield None
        return
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=err_console, transient=True,
    ) as prog:  # fmt: skip
        task = prog.add_task("starting", total=None)

        def step(name: str) -> None:
            prog.update(task, description=f"stage: {esc(name)}")

        yield step


@contextmanager
def bars() -> Iterator[Callable[[str, int, int], None]]:
    """Transient progress bars on stderr, one per stage: ``cb(stage, done, total)`` (a
    callback that shows nothing when stderr is not a terminal)."""
    if not err_console.is_terminal:
        yield lambda stage, done, total: None
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(),
        console=err_console, transient=True,
    ) as prog:  # fmt: skip
        tasks: dict[str, Any] = {}

        def cb(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(esc(stage), total=total)
            prog.update(tasks[stage], completed=done, total=total)

        yield cb

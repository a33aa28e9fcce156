"""The one place where text reaches the terminal, and the one error handler.

Everything the CLI prints goes through this module. Text that carries data (account names,
ids, reasons, file paths, values quoted in error messages) is never read as rich markup: it
is printed as :class:`rich.text.Text`, or escaped with :func:`esc` where it is placed into a
line of Keyfolio's own markup. Library errors (:class:`~keyfolio.errors.KeyfolioError`)
become one line on stderr and exit code 1 (:func:`handled`); usage mistakes exit 2 (click).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from keyfolio.errors import KeyfolioError

console = Console()
err_console = Console(stderr=True)

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


def handled(fn: Callable[P, R]) -> Callable[P, R]:
    """A command whose library errors end it with one line (:func:`fail`)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except KeyfolioError as exc:
            fail(str(exc))

    return wrapper


@contextmanager
def spinner(enabled: bool = True) -> Iterator[Callable[[str], None] | None]:
    """A transient spinner on stderr naming the stage that runs; yields its callback."""
    if not enabled:
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
    """Transient progress bars on stderr, one per stage: ``cb(stage, done, total)``."""
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

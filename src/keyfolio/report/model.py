"""The report as data: sections of prose, tables, charts and one-line notes.

Section builders (:mod:`keyfolio.report.sections`) fill these;
the HTML template renders them (and the PDF prints that HTML); tests read them directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from keyfolio.report.charts import Figure


@dataclass
class Chart:
    id: str
    figure: Figure
    caption: str = ""
    small: bool = False  # per-account charts: rendered lazily on screen


@dataclass
class Link:
    text: str
    href: str


Cell = str | Link


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]  # str or Link cells
    numeric: set[int] = field(default_factory=set)  # right-aligned column positions
    caption: str = ""
    note: str = ""  # e.g. "showing 50 of 1,234; the full table is in the XLSX"
    wide: bool = False


def drop_empty(t: Table, labels: set[str], empty: str = "—") -> Table:
    """``t`` without the columns named in ``labels`` whose cells are all ``empty``."""
    drop = {
        i for i, c in enumerate(t.columns) if c in labels and all(r[i] == empty for r in t.rows)
    }
    if not drop:
        return t
    keep = [i for i in range(len(t.columns)) if i not in drop]
    pos = {old: new for new, old in enumerate(keep)}
    return Table(
        [t.columns[i] for i in keep], [[r[i] for i in keep] for r in t.rows],
        numeric={pos[i] for i in t.numeric if i in pos}, caption=t.caption, note=t.note,
        wide=t.wide,
    )  # fmt: skip


@dataclass
class Block:
    """A key account's detail block."""

    anchor: str
    title: str
    facts: list[tuple[str, str]]
    lines: list[tuple[str, str]]
    chart: Chart | None
    note: str = ""


@dataclass
class Section:
    id: str
    title: str
    intro: list[str] = field(default_factory=list)  # paragraphs of plain text
    notes: list[str] = field(default_factory=list)  # one-line notes about missing inputs
    items: list[Any] = field(default_factory=list)  # Chart / Table / Para / Kpis / Block, in order
    numbers: dict[str, Any] = field(default_factory=dict)  # the section's key figures (tests)


@dataclass
class Para:
    text: str
    emphasis: bool = False


@dataclass
class Heading:
    text: str


@dataclass
class Kpis:
    items: list[tuple[str, str, str]]  # label, value, detail


@dataclass
class Pre:
    summary: str
    text: str


@dataclass
class Report:
    title: str
    subtitle: str
    run_id: str
    sections: list[Section]
    meta: list[tuple[str, str]]

    def charts(self) -> list[Chart]:
        out: list[Chart] = []
        for s in self.sections:
            for item in s.items:
                if isinstance(item, Chart):
                    out.append(item)
                elif isinstance(item, Block) and item.chart is not None:
                    out.append(item.chart)
        return out

    def section(self, sid: str) -> Section:
        for s in self.sections:
            if s.id == sid:
                return s
        raise KeyError(sid)


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def anchor(account_id: str) -> str:
    """Element id of an account's detail block: ``acct-<id>``; characters other than letters,
    digits, ``_`` and ``-`` are written as ``.<hex>.`` so every id stays unique and valid."""
    return "acct-" + _UNSAFE.sub(lambda m: f".{ord(m.group()):x}.", str(account_id))

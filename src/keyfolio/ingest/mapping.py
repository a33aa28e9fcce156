"""The mapping file: which source file and columns feed each canonical table.

Format (DESIGN.md, "Import")::

    [orders]
    file = "orders.csv"                      # relative to the mapping file
    columns = { order_id = "OrderID", account_id = "CustomerID", order_date = "OrderDate" }
    date_format = "%m/%d/%Y"                 # optional reading options (see ReadOptions);
                                             # several formats: ["%m/%d/%Y", "%m/%d/%y"]
    # header = false                         # no header: names = ["a", ...] or columns by
    #                                        # number: columns = { account_id = 1 }
    keep = ["Segment"]                       # accounts/products: extra source columns to keep
                                             # (or name them in columns: segment = "Segment")

Mistakes in the mapping itself (unknown table, unknown canonical column, unknown option,
missing ``file``) raise :class:`KeyfolioError` naming the mapping file and the key.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from keyfolio.errors import KeyfolioError
from keyfolio.ingest.readers import ReadOptions
from keyfolio.schema import TABLE_NAMES, TABLES

OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ReadOptions))
_TABLE_KEYS = (
    "file", "columns", "keep", "net_revenue_before_discount", "dedupe", *OPTION_NAMES
)  # fmt: skip
DEDUPE = ("first", "last", "error")
_OPTION_TYPES: dict[str, type | tuple[type, ...]] = {
    "delimiter": str,
    "encoding": str,
    "date_format": list,  # one format, or several tried in order
    "decimal": str,
    "sheet": (str, int),
    "header_row": int,
    "missing": list,
    "where": str,
    "date_range": list,
    "header": bool,
    "names": list,
}


@dataclass
class TableMapping:
    """One canonical table's source: file, canonical → source columns, options."""

    table: str
    file: Path
    columns: dict[str, str]
    options: ReadOptions = field(default_factory=ReadOptions)
    keep: dict[str, str] = field(default_factory=dict)  # extra attribute -> source column
    origin: str = ""  # where this mapping came from, for messages ("mapping.toml [orders]")
    # order_lines: the mapped net_revenue is the amount before the mapped discount
    net_revenue_before_discount: bool = False
    # key tables read from a file that repeats keys: keep the first / last row per key, or
    # refuse (None: identical repeats collapse, differing ones are an error)
    dedupe: str | None = None


def _err(origin: str, key: str, msg: str) -> KeyfolioError:
    return KeyfolioError(f"{origin}: {key}: {msg}")


def check_columns(
    table: str, columns: dict[str, Any], origin: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Split ``columns`` into canonical → source and, for accounts/products, extra attributes.

    A name that is not a canonical column is an extra attribute (kept as an account or
    product attribute) on tables that keep extras, unless it looks like a misspelt
    canonical name; on other tables it is an error.
    """
    spec = TABLES[table]
    canonical: dict[str, str] = {}
    extra: dict[str, str] = {}
    for name, source in columns.items():
        key = f"{table}.columns.{name}"
        if not isinstance(source, str) or not source:
            raise _err(origin, key, f"expected a source column name, found {source!r}")
        if name in spec.names:
            canonical[name] = source
            continue
        close = difflib.get_close_matches(name, spec.names, n=1, cutoff=0.8)
        if not spec.keep_extra or close:
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _err(
                origin,
                key,
                f"unknown column of {table}; expected one of: {', '.join(spec.names)}{hint}",
            )
        extra[name] = source
    return canonical, extra


def numbered_columns(
    columns: dict[str, str], options: ReadOptions | None, table: str
) -> dict[str, str]:
    """The one-table form's ``--col account_id=2`` with ``--names``: the second name."""
    if options is None or options.header or options.names is None:
        return columns
    cols = {k: int(v) if v.isdigit() and v not in options.names else v for k, v in columns.items()}
    return positional_columns(cols, options, "--col", table)


def options_from(values: dict[str, Any], origin: str, prefix: str) -> ReadOptions:
    """ReadOptions from a dict of option values, type-checked with clear messages."""
    kwargs: dict[str, Any] = {}
    value: Any
    for name, value in values.items():
        if name not in OPTION_NAMES:
            raise _err(
                origin,
                f"{prefix}{name}",
                f"unknown option; expected one of: {', '.join(OPTION_NAMES)}",
            )
        want = _OPTION_TYPES[name]
        if name == "missing" and isinstance(value, str):
            value = [value]
        if name == "date_range":
            ok = (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            )
            if not ok:
                raise _err(origin, f"{prefix}{name}",
                           f"expected two years [first, last], found {value!r}")  # fmt: skip
            kwargs[name] = (value[0], value[1])
            continue
        if name == "date_format" and isinstance(value, str):
            want = str
        if not isinstance(value, want) or (isinstance(value, bool) and want is not bool):
            raise _err(origin, f"{prefix}{name}", f"expected {_type_name(want)}, found {value!r}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise _err(origin, f"{prefix}{name}", f"expected a list of strings, found {value!r}")
        kwargs[name] = value
    try:
        return ReadOptions(**kwargs)
    except KeyfolioError as e:
        raise KeyfolioError(f"{origin}: {prefix}{e}") from None


def _type_name(t: type | tuple[type, ...]) -> str:
    if isinstance(t, tuple):
        return " or ".join(_type_name(x) for x in t)
    names: dict[type, str] = {
        str: "a string",
        int: "an integer",
        list: "a list of strings",
        bool: "true or false",
    }
    return names.get(t, t.__name__)


def positional_columns(
    columns: dict[str, Any], options: ReadOptions, origin: str, table: str
) -> dict[str, Any]:
    """``account_id = 2`` (1-based column numbers) as the names the reader gives columns.

    Only for a file without a header: the second of ``names``, or column "2".
    """
    out: dict[str, Any] = {}
    for name, source in columns.items():
        if not isinstance(source, int) or isinstance(source, bool):
            out[name] = source
            continue
        key = f"{table}.columns.{name}"
        if options.header:
            raise _err(
                origin,
                key,
                f"a column number ({source}) needs header = false; "
                "in a file with a header, name the header's column",
            )
        if source < 1:
            raise _err(origin, key, f"expected a column number >= 1, found {source}")
        if options.names is not None:
            if source > len(options.names):
                raise _err(
                    origin,
                    key,
                    f"column {source} is beyond the last of names "
                    f"({len(options.names)} columns: {', '.join(options.names)})",
                )
            out[name] = options.names[source - 1]
        else:
            out[name] = str(source)
    return out


def parse_mapping(text: str, base: Path, origin: str = "mapping") -> list[TableMapping]:
    """Parse mapping TOML ``text``; relative ``file`` paths resolve against ``base``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise KeyfolioError(f"{origin}: not valid TOML ({e})") from None
    if not data:
        raise KeyfolioError(
            f"{origin}: no tables; expected sections like [orders] or [order_lines]"
        )
    out: list[TableMapping] = []
    for table, body in data.items():
        if table not in TABLES:
            raise _err(
                origin, f"[{table}]", f"unknown table; expected one of: {', '.join(TABLE_NAMES)}"
            )
        if not isinstance(body, dict):
            raise _err(origin, table, "expected a table section [name] with file and columns")
        for key in body:
            if key not in _TABLE_KEYS:
                raise _err(
                    origin,
                    f"{table}.{key}",
                    f"unknown option; expected one of: {', '.join(_TABLE_KEYS)}",
                )
        file = body.get("file")
        if not isinstance(file, str) or not file:
            raise _err(
                origin, f"{table}.file", f"missing; expected the source file path, found {file!r}"
            )
        columns = body.get("columns", {})
        if not isinstance(columns, dict):
            raise _err(
                origin,
                f"{table}.columns",
                f"expected a table of canonical = source, found {columns!r}",
            )
        keep = body.get("keep", [])
        if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
            raise _err(
                origin, f"{table}.keep", f"expected a list of source column names, found {keep!r}"
            )
        if keep and not TABLES[table].keep_extra:
            raise _err(
                origin,
                f"{table}.keep",
                f"{table} does not keep extra columns (only accounts, products)",
            )
        before = body.get("net_revenue_before_discount", False)
        if not isinstance(before, bool):
            raise _err(origin, f"{table}.net_revenue_before_discount",
                       f"expected true or false, found {before!r}")  # fmt: skip
        if before and table != "order_lines":
            raise _err(origin, f"{table}.net_revenue_before_discount",
                       "applies to order_lines only")  # fmt: skip
        dedupe = body.get("dedupe")
        if dedupe is not None and dedupe not in DEDUPE:
            raise _err(origin, f"{table}.dedupe",
                       f"expected one of {', '.join(DEDUPE)}, found {dedupe!r}")  # fmt: skip
        if dedupe is not None and not TABLES[table].key:
            raise _err(origin, f"{table}.dedupe", f"{table} has no key to deduplicate on")
        opts = {k: v for k, v in body.items() if k in OPTION_NAMES}
        options = options_from(opts, origin, f"{table}.")
        columns = positional_columns(columns, options, origin, table)
        canonical, extra = check_columns(table, columns, origin)
        for k in keep:
            if k in canonical or k in extra:
                raise _err(origin, f"{table}.keep", f"{k!r} is already a column name")
            extra[k] = k
        out.append(
            TableMapping(
                table=table,
                file=(base / file).resolve(),
                columns=canonical,
                options=options,
                keep=extra,
                origin=f"{origin} [{table}]",
                net_revenue_before_discount=before,
                dedupe=dedupe,
            )
        )
    return out


def load_mapping(path: Path) -> list[TableMapping]:
    """Read and validate a mapping file."""
    if not path.is_file():
        raise KeyfolioError(f"{path}: mapping file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise KeyfolioError(
            f"{path}: expected a UTF-8 TOML file, found undecodable bytes"
        ) from None
    return parse_mapping(text, path.resolve().parent, origin=str(path))

"""Undecodable text files: where the bad byte is, and which encodings read the file cleanly.

A text export from Excel is cp1252, from an old Mac mac_roman, from a DOS program cp850.
Several single-byte encodings decode *any* byte, so "decodes without error" is not enough:
cp1252 turns a Mac Roman "Société" into "SociŽtŽ". A candidate counts as clean when it
gives no undefined byte, no C1 control character and no mojibake (an accented capital
after a small letter, a symbol between two letters), which is how a garbled name looks.
"""

from __future__ import annotations

import codecs
import functools
import re
from pathlib import Path

from keyfolio.errors import Problem
from keyfolio.ingest.options import option, setting

CANDIDATES = ("utf-8", "cp1252", "latin-1", "mac_roman", "cp850", "utf-16")
_SCAN_BYTES = 64 << 20  # how much of a file the candidates are tried on
_CHUNK = 1 << 20
_QUOTES = "\u2018\u2019\u201a\u201c\u201d\u201e\u2013\u2014\u2026\u00b7\u00a0"
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# byte-order marks that name their encoding (UTF-32 first: its LE mark starts like UTF-16's)
_BOM_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def file_encoding(path: Path, encoding: str) -> str:
    """Python's name for the encoding to read ``path`` with: a UTF-16 or UTF-32 file is
    known by its byte-order mark whatever the option says (no text in another encoding
    starts with those bytes), and UTF-8 may start with Excel's BOM (read as utf-8-sig)."""
    with path.open("rb") as fh:
        head = fh.read(4)
    for bom, name in _BOM_ENCODINGS:
        if head.startswith(bom):
            return name
    return "utf-8-sig" if _name(encoding) == "utf-8" else encoding


def count_lines(text: str) -> int:
    """Line breaks in ``text``: CRLF, CR (old Mac) and LF each count once."""
    return len(_LINE_BREAKS.findall(text))


def _name(encoding: str) -> str:
    return codecs.lookup(encoding).name


@functools.lru_cache(maxsize=16)
def mojibake(encoding: str) -> re.Pattern[str]:
    """What garbled text looks like when read with ``encoding``.

    C0/C1 control characters (not tab or line breaks), private or unassigned characters;
    for single-byte encodings also an accented capital inside a small-letter word
    ("SociŽtŽ", "MŸller") and symbols between two letters ("Bj‡rn", "Soci├⌐t├⌐"), built from the
    characters that the encoding's 128 upper bytes can give.
    """
    controls = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ufffd]"
    if _name(encoding) in ("utf-8", "utf-16"):
        return re.compile(controls)
    chars = [bytes([b]).decode(encoding, errors="ignore") for b in range(256)]
    universe = "".join(c for c in chars if c)
    lower = "".join(c for c in universe if c.islower())
    letters = "".join(c for c in universe if c.isalpha())
    upper = "".join(c for c in universe if c.isupper() and not c.isascii())
    symbols = "".join(
        c for c in universe
        if not c.isascii() and not c.isalnum() and c not in _QUOTES
    )  # fmt: skip

    def cls(s: str) -> str:
        return "[" + re.escape(s) + "]"

    alts = [
        controls,
        f"(?<={cls(lower)}){cls(upper)}",
        f"(?<={cls(letters)}){cls(upper)}(?={cls(lower)})",
    ]
    if symbols:
        alts.append(f"(?<={cls(letters)}){cls(symbols)}+(?={cls(letters)})")
    return re.compile("|".join(alts))


def clean_encodings(path: Path, exclude: str) -> list[str]:
    """The candidate encodings that decode ``path`` without error or mojibake, best first.

    Tried on the first 64 MiB; UTF-16 only for a file that starts with its byte-order mark.
    """
    with path.open("rb") as fh:
        utf16 = fh.read(2) in _BOMS
    decoders = {
        enc: codecs.getincrementaldecoder(enc)(errors="strict")
        for enc in CANDIDATES
        if _name(enc) != _name(exclude) and (enc != "utf-16" or utf16)
    }
    read = 0
    with path.open("rb") as fh:
        while decoders and read < _SCAN_BYTES and (chunk := fh.read(_CHUNK)):
            read += len(chunk)
            final = len(chunk) < _CHUNK
            for enc in list(decoders):
                try:
                    text = decoders[enc].decode(chunk, final)
                except UnicodeDecodeError:
                    del decoders[enc]
                    continue
                if mojibake(enc).search(text):
                    del decoders[enc]
    return [e for e in CANDIDATES if e in decoders]


def decode_problem(path: Path, encoding: str) -> Problem | None:
    """Stream the file through ``encoding``; a Problem at the first undecodable byte.

    The row is the line of the bad byte as an editor shows it (CR-only files count
    their CRs); the hint names the encodings that read the whole file cleanly.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0  # bytes read
    lines = 1
    pending_cr = False  # a CR at the end of a chunk may be the first half of CRLF
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            try:
                # the last call says the input ends: a character cut short there is bad too
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:
                # e.object: the bytes an earlier chunk left undecoded, then this chunk
                data = bytes(e.object)
                start = offset + len(chunk) - len(data)  # the file offset of data[0]
                # the bytes before the bad one: only their line breaks are counted
                lines += _count(codecs.decode(data[: e.start], encoding, "replace"), pending_cr)
                bad = " ".join(f"0x{b:02X}" for b in data[e.start : e.end])
                cut = " (a character cut short at the end of the file)" if not chunk else ""
                return Problem(
                    str(path),
                    lines,
                    None,
                    f"text in {encoding}{_hint(path, encoding)}",
                    f"byte {bad} at byte offset {start + e.start}, not valid {encoding}{cut}",
                )
            if not chunk:
                return None
            lines += _count(text, pending_cr)
            pending_cr = text.endswith("\r") or (pending_cr and not text)
            offset += len(chunk)


def _count(text: str, pending_cr: bool) -> int:
    n = count_lines(text)
    if pending_cr and text.startswith("\n"):
        n -= 1  # the LF of a CRLF split across two chunks
    return n


def _hint(path: Path, encoding: str) -> str:
    clean = clean_encodings(path, encoding)
    if clean:
        shown = " or ".join(f'"{e}"' for e in clean[:3])
        return f" (the file reads cleanly as {shown}: {setting('encoding', clean[0])})"
    return (
        f" ({option('encoding')} names the file's encoding: cp1252 or latin-1 for Excel and "
        "Windows exports, mac_roman for old Macs, cp850 for DOS)"
    )


__all__ = [
    "CANDIDATES",
    "clean_encodings",
    "count_lines",
    "decode_problem",
    "file_encoding",
    "mojibake",
]

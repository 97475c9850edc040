"""CSV files a person opens in a spreadsheet program: written safely, read forgivingly.

Writing (:func:`write_csv`)
    * UTF-8 **with a BOM**: Excel reads a BOM-less CSV as the local ANSI code page and
      mangles every non-ASCII folder name; LibreOffice, Numbers, pandas and Python's
      ``csv`` module all accept the BOM.
    * Formula injection: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
      carriage return would be *run* by a spreadsheet (a folder can be called
      ``=cmd|' /C calc'!A0``). Such a cell is written with a leading ``'``, which makes it
      inert text. A cell that really starts with ``'`` gets one too, so reading strips
      exactly the one quote added and the round trip is exact for every string.
    * Atomic: written to a temporary file next to the target and renamed over it, so a
      crash never leaves half a CSV, and a file open in Excel (locked on Windows) gives a
      clear message instead of a traceback.

Reading (:func:`read_csv`)
    * BOM or not; UTF-8, falling back to Windows-1252 (what "CSV" means in an older Excel);
    * CRLF / LF / CR line ends, quoted newlines inside cells;
    * ``,``, ``;`` (European Excel) or tab separators, detected from the header row;
    * columns in any order, extra columns, column names in any case with spaces around;
    * blank rows and rows of empty cells (what a spreadsheet leaves behind) are dropped;
    * every row remembers the line it started on, for error messages.

The predictions CSVs of the models use the same two functions.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.jobs import UserError

# A cell starting with one of these is a formula (or a DDE call) to a spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
_DELIMITERS = (",", ";", "\t")


def escape_cell(value: Any) -> Any:
    """Make a string cell inert in a spreadsheet; other types are returned unchanged.

    Numbers are left alone on purpose: ``-3`` as a number is data, not a formula.
    """
    if isinstance(value, str) and value and (value[0] in FORMULA_START or value[0] == ESCAPE):
        return ESCAPE + value
    return value


def unescape_cell(value: str) -> str:
    """Undo :func:`escape_cell` exactly: strip the one ``'`` that was added, nothing else."""
    if len(value) >= 2 and value[0] == ESCAPE and (value[1] in FORMULA_START or value[1] == ESCAPE):
        return value[1:]
    return value


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


# Reading keeps the rows in memory (about 9 bytes per byte of CSV with `keep`): a clear limit instead of
# swapping. A samples CSV of 100,000 folders is about 15 MB.
MAX_CSV_BYTES = 25_000_000


def process_umask() -> int:
    """The process umask, read without changing it (os.umask would, for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def write_csv(
    path: str | os.PathLike,
    header: Sequence[str],
    rows: Iterable[Sequence[Any] | Mapping[str, Any]],
) -> int:
    """Write ``rows`` under ``header`` to ``path`` (UTF-8 with BOM, escaped, atomic).

    ``rows`` may be sequences (in header order) or mappings (missing keys are empty).
    Returns the number of data rows written. Raises :class:`UserError` when the file
    cannot be written (folder missing and not creatable, file open in another program).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(
            f"Cannot create the folder for {target}: {e.strerror}. Choose another --output-csv."
        ) from None
    header = list(header)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh, lineterminator="\r\n")
            w.writerow([escape_cell(h) for h in header])
            for row in rows:
                if isinstance(row, Mapping):
                    values = [row.get(h) for h in header]
                else:
                    values = list(row)
                    if len(values) != len(header):
                        raise ValueError(f"row has {len(values)} cells, header has {len(header)}")
                w.writerow(
                    [escape_cell(_cell_text(v)) if isinstance(v, str) else _cell_text(v) for v in values]
                )
                count += 1
        os.chmod(tmp_name, 0o666 & ~process_umask())  # mkstemp makes 0600; an export is an ordinary file
        os.replace(tmp_name, target)
    except PermissionError:
        _remove_quietly(tmp_name)
        raise UserError(
            f"Cannot write {target}: permission denied. If the file is open in a spreadsheet "
            "program, close it and run the command again."
        ) from None
    except OSError as e:
        _remove_quietly(tmp_name)
        raise UserError(f"Cannot write {target}: {e.strerror or e}.") from None
    except BaseException:
        _remove_quietly(tmp_name)
        raise
    return count


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


@dataclass
class CsvRow:
    """One data row: the line it starts on (1-based, header = line 1) and its cells by column."""

    line: int
    values: dict[str, str]

    def get(self, column: str, default: str = "") -> str:
        return self.values.get(column, default)


@dataclass
class CsvTable:
    path: Path
    header: list[str]  # normalized column names (lower case, stripped), in file order
    rows: list[CsvRow]
    delimiter: str = ","
    encoding: str = "utf-8"
    blank_rows: int = 0
    original_header: list[str] = field(default_factory=list)


def normalize_column(name: str) -> str:
    """``" Folder_ID "`` -> ``folder_id``: how a column name is matched."""
    return unescape_cell(name.replace("\ufeff", "")).strip().lower().replace(" ", "_")


def _decode(data: bytes, path: Path) -> tuple[str, str]:
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        # "Unicode text" from Excel is UTF-16 and tab-separated.
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise UserError(
            f"{path} is not UTF-8 text. Save it from your spreadsheet program as "
            "'CSV UTF-8 (comma delimited)' and try again."
        ) from None


def _first_record(text: str, delimiter: str) -> list[str]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for rec in reader:
        if any(c.strip() for c in rec):
            return rec
    return []


def _detect_delimiter(text: str, expected: Sequence[str]) -> str:
    """The separator whose header row contains the most expected columns (then the most cells)."""
    best, best_score = ",", (-1, -1)
    for d in _DELIMITERS:
        header = [normalize_column(c) for c in _first_record(text, d)]
        score = (sum(1 for e in expected if e in header), len(header))
        if score > best_score:
            best, best_score = d, score
    return best


def read_csv(
    path: str | os.PathLike, *, expected_columns: Sequence[str] = (), keep: Sequence[str] | None = None
) -> CsvTable:
    """Read a CSV written by fsorg or saved back by a spreadsheet program (see module doc).

    Cells are unescaped (:func:`unescape_cell`); column names are normalized
    (:func:`normalize_column`). ``expected_columns`` helps choose the separator.
    ``keep`` (column names): only these columns' cells are kept per row, which is most of the
    memory of a big file (the header still lists every column).
    Raises :class:`UserError` for a missing, unreadable, empty or non-text file.
    """
    p = Path(path)
    try:
        size = p.stat().st_size if p.is_file() else 0
    except OSError:
        size = 0
    if size > MAX_CSV_BYTES:
        raise UserError(
            f"{p} is {size / 1e6:.0f} MB; fsorg reads CSV files of up to {MAX_CSV_BYTES // 1_000_000} MB "
            "(a labels CSV of 100,000 folders is about 15 MB). Split it, or keep only the rows you labelled."
        )
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{p} does not exist. Check the path (generate-samples writes it).") from None
    except IsADirectoryError:
        raise UserError(f"{p} is a folder, not a CSV file.") from None
    except OSError as e:
        raise UserError(f"Cannot read {p}: {e.strerror or e}.") from None
    if b"\x00" in data[:4096] and not (data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff")):
        raise UserError(f"{p} is not a CSV text file (is it an .xlsx? Save it as CSV UTF-8 first).")
    text, encoding = _decode(data, p)
    del data  # only the text is needed from here on
    if not text.strip():
        raise UserError(f"{p} is empty.")
    delimiter = _detect_delimiter(text, [normalize_column(e) for e in expected_columns])
    buf = io.StringIO(text, newline="")
    del text  # the reader's buffer holds its own copy
    kept = None if keep is None else {normalize_column(k) for k in keep}
    reader = csv.reader(buf, delimiter=delimiter, strict=False)
    header: list[str] | None = None
    original: list[str] = []
    rows: list[CsvRow] = []
    blank = 0
    line_before = 0
    try:
        for rec in reader:
            start = line_before + 1
            line_before = reader.line_num
            if not any(c.strip() for c in rec):
                if header is not None:
                    blank += 1
                continue
            if header is None:
                original = list(rec)
                header = [normalize_column(c) for c in rec]
                continue
            values: dict[str, str] = {}
            for i, col in enumerate(header):
                if not col or (kept is not None and col not in kept):
                    continue
                cell = rec[i] if i < len(rec) else ""
                if col not in values or not values[col]:
                    values[col] = unescape_cell(cell)
            rows.append(CsvRow(start, values))
    except csv.Error as e:
        raise UserError(f"{p}, line {reader.line_num}: not valid CSV ({e}).") from None
    if header is None:
        raise UserError(f"{p} has no header row.")
    return CsvTable(p, header, rows, delimiter, encoding, blank, original)

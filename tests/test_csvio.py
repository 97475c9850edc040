"""Spreadsheet-safe CSV: BOM, inert formulas with an exact round trip (csv module and pandas),
and reading what spreadsheet programs write back."""

from __future__ import annotations

import csv

import pytest

from engine.core.csvio import escape_cell, read_csv, unescape_cell, write_csv
from engine.core.jobs import UserError

NASTY = [
    "=cmd|' /C calc'!A0",
    "+1",
    "-x",
    "@sum",
    "'quoted",
    "''double",
    "\tleading tab",
    "\rleading cr",
    "plain",
    "",
    "Ünïcødé — 地図",
    'has "quotes", commas; and\nnewlines',
    "=",
    "'",
]

# Through other tools: a bare carriage return inside a cell is not quoted by Python's csv
# writer with a "\n" terminator (nor by pandas), so such a name cannot survive *their* write;
# fsorg's own writer quotes it (see test_own_roundtrip_keeps_every_name).
TOOL_SAFE = [v for v in NASTY if "\r" not in v]


@pytest.mark.parametrize("value", NASTY)
def test_escape_roundtrip_is_exact(value):
    escaped = escape_cell(value)
    assert unescape_cell(escaped) == value
    if value and value[0] in "=+-@\t\r'":
        assert escaped.startswith("'")
    assert not (escaped and escaped[0] in "=+-@\t\r")


def test_numbers_are_not_escaped():
    assert escape_cell(-3) == -3
    assert escape_cell(1.5) == 1.5


def test_written_file_has_bom_crlf_and_inert_cells(tmp_path):
    p = tmp_path / "out.csv"
    n = write_csv(p, ["folder_id", "name"], [(i, v) for i, v in enumerate(NASTY)])
    assert n == len(NASTY)
    data = p.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    # What a spreadsheet sees: no cell starts with a formula character.
    with open(p, encoding="utf-8-sig", newline="") as fh:
        for row in csv.reader(fh):
            for cell in row:
                assert not (cell and cell[0] in "=+-@\t\r"), cell
    assert not list(tmp_path.glob(".out.csv.*"))  # no temporary file left


def test_roundtrip_through_csv_module(tmp_path):
    p = tmp_path / "a.csv"
    write_csv(p, ["folder_id", "name"], [(i, v) for i, v in enumerate(TOOL_SAFE)])
    # A user's tool re-writes the file with the csv module (no BOM, LF line ends).
    with open(p, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    q = tmp_path / "b.csv"
    with open(q, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    table = read_csv(q)
    assert [r.values["name"] for r in table.rows] == TOOL_SAFE
    assert [r.values["folder_id"] for r in table.rows] == [str(i) for i in range(len(TOOL_SAFE))]


def test_own_roundtrip_keeps_every_name(tmp_path):
    p = tmp_path / "a.csv"
    write_csv(p, ["folder_id", "name"], [{"folder_id": i, "name": v} for i, v in enumerate(NASTY)])
    assert [r.values["name"] for r in read_csv(p).rows] == NASTY


def test_roundtrip_through_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    p = tmp_path / "a.csv"
    write_csv(p, ["folder_id", "name", "label"], [(i, v, "") for i, v in enumerate(TOOL_SAFE)])
    df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(df.columns) == ["folder_id", "name", "label"]
    df["label"] = "content_subject"
    q = tmp_path / "b.csv"
    df.to_csv(q, index=False)
    table = read_csv(q)
    assert [r.values["name"] for r in table.rows] == TOOL_SAFE
    assert {r.values["label"] for r in table.rows} == {"content_subject"}


def test_reads_semicolons_crlf_bom_reordered_extra_columns_and_blank_rows(tmp_path):
    p = tmp_path / "excel.csv"
    text = (
        "\ufeffLabel ; Notes;Folder_ID;path\r\n"
        'descriptor;"two\r\nlines";12;a/b\r\n'
        ";;;\r\n"
        "\r\n"
        "other;x;13;'=c\r\n"
    )
    p.write_bytes(text.encode("utf-8"))
    t = read_csv(p, expected_columns=["folder_id", "label"])
    assert t.delimiter == ";"
    assert t.header == ["label", "notes", "folder_id", "path"]
    assert [(r.line, r.values["folder_id"], r.values["label"]) for r in t.rows] == [
        (2, "12", "descriptor"),
        (6, "13", "other"),
    ]
    assert t.rows[0].values["notes"] == "two\r\nlines"
    assert t.rows[1].values["path"] == "=c"
    assert t.blank_rows == 2


def test_reads_tabs_and_cp1252(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes("folder_id\tlabel\tname\n1\tother\tCaf\xe9\n".encode("cp1252"))
    t = read_csv(p, expected_columns=["folder_id", "label"])
    assert t.delimiter == "\t" and t.encoding == "cp1252"
    assert t.rows[0].values["name"] == "Café"


def test_comma_wins_when_names_contain_semicolons(tmp_path):
    p = tmp_path / "c.csv"
    write_csv(p, ["folder_id", "path", "label"], [(1, "a;b;c;d", "other")])
    t = read_csv(p, expected_columns=["folder_id", "label"])
    assert t.delimiter == "," and t.rows[0].values["path"] == "a;b;c;d"


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"", "empty"), (b"PK\x03\x04\x00\x00xlsx", "not a CSV"), (b"\n\n", "empty")],
)
def test_unreadable_files_are_user_errors(tmp_path, content, match):
    p = tmp_path / "x.csv"
    p.write_bytes(content)
    with pytest.raises(UserError, match=match):
        read_csv(p)


def test_missing_file_and_unwritable_target(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        read_csv(tmp_path / "nope.csv")
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(UserError, match="Cannot"):
        write_csv(tmp_path / "blocker" / "out.csv", ["a"], [("1",)])

"""Exports of one eval run: the numbers as JSON, per-class and confusion tables as CSV.

CSV goes through :func:`engine.core.csvio.write_csv` (UTF-8 with BOM, formula cells made
inert, written atomically) like every CSV fsorg writes.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from engine.core.csvio import write_csv
from engine.evaluation.queries import EvalRun


def _atomic_write_text(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, then rename: a failed export
    never leaves a half-written file where a good one was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def report_json(run: EvalRun) -> dict:
    """The numbers of one run as exported: run metadata, the report, the corrections."""
    rep = run.report.to_dict()
    return {
        "eval_run": asdict(run.info),
        "report": rep,
        "changed_since_run": [asdict(ch) for ch in run.changes],
    }


def export_json(run: EvalRun, path: str | os.PathLike) -> Path:
    path = Path(path)
    _atomic_write_text(path, json.dumps(report_json(run), indent=2))
    return path


def confusion_csv_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    return p.with_name(f"{p.stem}_confusion{p.suffix or '.csv'}")


PER_CLASS_COLUMNS = ("label", "precision", "recall", "f1", "support", "scored")


def export_csv(run: EvalRun, path: str | os.PathLike) -> list[Path]:
    """Two spreadsheet-ready files: ``path`` holds one row per class (precision, recall,
    F1, support) plus macro-F1/accuracy rows; ``<stem>_confusion.csv`` holds the matrix
    (rows true, columns predicted). Returns both paths."""
    rep, info = run.report, run.info
    path = Path(path)
    width = len(PER_CLASS_COLUMNS)

    def pad(*cells: object) -> list[object]:
        return [*cells, *[""] * (width - len(cells))]

    rows: list[list[object]] = []
    for lb in rep.labels:
        s = rep.per_class[lb]
        rows.append(
            [lb, f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", s.support, int(lb in rep.scored_labels)]
        )
    rows += [
        ["macro_f1", "", "", f"{rep.macro_f1:.4f}", rep.n, ""],
        ["accuracy", "", "", f"{rep.accuracy:.4f}", rep.n, ""],
        pad(),
        pad("eval_run", info.id),
        pad("date", info.date_text),
        pad("model", info.model_text),
        pad("label_run", info.label_run_id),
        pad("split", info.split_text),
        pad("decision", rep.decision),
    ]
    write_csv(path, PER_CLASS_COLUMNS, rows)
    cpath = confusion_csv_path(path)
    write_csv(cpath, ["true \\ predicted", *rep.labels], ([lb, *row] for lb, row in zip(rep.labels, rep.confusion)))
    return [path, cpath]

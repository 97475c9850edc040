"""Message dialogs that never block the event loop.

Why not ``QMessageBox.critical(...)``: a modal ``exec()`` runs a nested event loop, which
freezes tests and re-enters job callbacks. Every dialog here is window-modal and shown
with ``open()``; :class:`DialogHost` keeps a reference so it is not garbage-collected and
so tests can find and close it. Questions go through :attr:`DialogHost.confirm`, a hook a
test can replace.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.core.jobs import UserError


def describe_error(error: BaseException, doing: str) -> tuple[str, str, str | None]:
    """(text, informative text, details) for an error raised while ``doing`` something.

    A :class:`UserError` already says what to do; anything else is a bug, shown plainly
    with the traceback under "Show Details" (never only on stderr).
    """
    if isinstance(error, UserError):
        return str(error), "", error.details
    tb = getattr(error, "_fsorg_traceback", None)
    kind = getattr(error, "type_name", type(error).__name__)  # a child process's error keeps its class
    return (
        f"{doing} failed: {kind}: {error}",
        "This looks like a bug in fsorg, not something you did. Your labels are saved. "
        "The details below help to report it.",
        tb,
    )


_LINE = re.compile(r"^\s*line (\d+): (?:'(.*?)'|\"(.*?)\"): (.*)$|^\s*line (\d+): (.*)$")


def _problems_from_details(details: str) -> list[tuple]:
    """(line, column, value, reason) rows from a UserError's "line N: 'value': reason" details;
    lines that are not about a row (the allowed labels, what to do) become reason-only rows."""
    out: list[tuple] = []
    for text in details.splitlines():
        if not text.strip():
            continue
        m = _LINE.match(text)
        if m and m.group(1):
            out.append((int(m.group(1)), "", m.group(2) if m.group(2) is not None else m.group(3), m.group(4)))
        elif m and m.group(5):
            out.append((int(m.group(5)), "", "", m.group(6)))
        else:
            out.append(("", "", "", text.strip()))
    return out


class DialogHost(QObject):
    """Shows and remembers the window's non-blocking dialogs."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self.open_dialogs: list[QDialog] = []
        self.confirm: Callable[[str, str], bool] = self._ask

    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(
            self._parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        )
        return answer == QMessageBox.StandardButton.Yes

    def keep(self, dlg: QDialog) -> QDialog:
        """Show ``dlg`` without blocking (``open()``) and hold it until it closes."""
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.open_dialogs.append(dlg)
        dlg.finished.connect(lambda _=0, d=dlg: self.open_dialogs.remove(d) if d in self.open_dialogs else None)
        dlg.open()
        return dlg

    def message(
        self,
        title: str,
        text: str,
        *,
        informative: str = "",
        details: str | None = None,
        icon: QMessageBox.Icon = QMessageBox.Icon.Information,
    ) -> QMessageBox:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self._parent)
        box.setObjectName("fsorgMessage")
        if informative:
            box.setInformativeText(informative)
        if details:
            box.setDetailedText(details)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.keep(box)
        return box

    def error(self, title: str, error: BaseException, doing: str) -> QMessageBox:
        text, info, details = describe_error(error, doing)
        return self.message(title, text, informative=info, details=details, icon=QMessageBox.Icon.Warning)

    def csv_problems(self, path: str, error: UserError) -> QDialog:
        """Every bad row of an imported CSV in a table: line, column, value, why."""
        problems = [
            (p.line, getattr(p, "column", ""), p.value, p.reason) for p in (getattr(error, "problems", None) or [])
        ] or _problems_from_details(error.details or "")
        # Rows about a line go in the table; general advice below it (the CLI's "run
        # apply-classifications again" is said in the app's own words in the heading).
        notes = [p[3] for p in problems if p[0] == "" and "apply-classifications" not in p[3]]
        problems = [p for p in problems if p[0] != ""]
        show_column = any(p[1] for p in problems)
        dlg = QDialog(self._parent)
        dlg.setObjectName("csvProblems")
        dlg.setWindowTitle("The CSV was not imported")
        head = QLabel(
            f"<b>{str(error).splitlines()[0] if str(error) else 'The file has problems.'}</b><br>"
            f"Nothing was written. Fix the rows below in <i>{path}</i> (or clear their label) and import it again."
        )
        head.setWordWrap(True)
        table = QTableWidget(len(problems), 4)
        table.setObjectName("problemTable")
        table.setHorizontalHeaderLabels(["Line", "Column", "Value", "Problem"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for i, p in enumerate(problems):
            for j, v in enumerate(p):
                item = QTableWidgetItem("" if v is None else str(v))
                item.setToolTip(item.text())
                table.setItem(i, j, item)
        table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        table.setColumnHidden(1, not show_column)
        table.setWordWrap(True)
        table.resizeColumnsToContents()
        table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        note = QLabel("<br>".join(notes))
        note.setWordWrap(True)
        note.setVisible(bool(notes))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dlg.reject)
        lay = QVBoxLayout(dlg)
        lay.addWidget(head)
        lay.addWidget(table, 1)
        lay.addWidget(note)
        lay.addWidget(buttons)
        dlg.resize(760, 420)
        table.resizeRowsToContents()  # after the final width, so long reasons wrap
        self.keep(dlg)
        table.resizeRowsToContents()
        return dlg

    def close_all(self) -> None:
        for d in list(self.open_dialogs):
            d.close()

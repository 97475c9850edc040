"""Why does the model say that? For the selected folder: the heuristic rule that fired, the
model's top three labels with probabilities, and the three nearest labelled folders.

The numbers come from :class:`engine.active.explain.Explainer` (Qt-free) in a child process owned by
:class:`fsorg_desktop.services.explain.ExplainService` (the window owns it, one per library);
a newer ``show_folder`` discards the older request, so a slow answer never overwrites a newer one.

Wiring (STYLE §1.4): the view only emits ``folder_activated(folder_id)`` when the user
double-clicks a nearest folder; the main window selects it in the tree.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QProgressBar, QVBoxLayout, QWidget
from shiboken6 import isValid

from engine.core.jobs import Cancelled, UserError
from engine.core.taxonomy import label_by_name
from fsorg_desktop.services.explain import ExplainService
from fsorg_desktop.style.certainty import LEGEND as CERTAINTY_LEGEND
from fsorg_desktop.style.certainty import is_unsure, shown_title
from fsorg_desktop.style.label_style import label_color, label_icon

FolderIdRole = Qt.ItemDataRole.UserRole


def _title(label: str | None) -> str:
    if not label:
        return "-"
    try:
        return label_by_name(label).title
    except KeyError:
        return label


class ExplainView(QWidget):
    """Shows :class:`engine.active.explain.Explanation` for one folder at a time."""

    folder_activated = Signal(int)  # a nearest labelled folder was double-clicked (ask)
    explanation_shown = Signal(object)  # engine.active.explain.Explanation now on screen (fact)
    message_shown = Signal(str)  # an error or hint now on screen (fact)

    def __init__(self, service: ExplainService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = service
        self._folder_id: int | None = None
        self._explanation = None

        self._title = QLabel("Select a folder to see why the model labels it as it does.")
        self._title.setWordWrap(True)
        self._title.setTextFormat(Qt.TextFormat.PlainText)
        self._busy = QProgressBar()
        self._busy.setRange(0, 100)
        self._busy.setTextVisible(False)
        self._busy.setMaximumHeight(6)
        self._busy.hide()
        self._note = QLabel()  # e.g. why the folder's label is marked suspect (set by the composer)
        self._note.setWordWrap(True)
        self._note.setStyleSheet("background: rgba(230, 126, 34, 0.18); padding: 4px; border-radius: 3px;")
        self._note.hide()
        self._heuristic = QLabel()
        self._heuristic.setWordWrap(True)
        self._heuristic.setTextFormat(Qt.TextFormat.RichText)
        self._top = QLabel()
        self._top.setTextFormat(Qt.TextFormat.RichText)
        self._legend = QLabel(CERTAINTY_LEGEND)  # one rule with the tree and the drill-down
        self._legend.setWordWrap(True)
        self._legend.setEnabled(False)
        self._legend.hide()
        self._nearest_title = QLabel("Nearest labelled folders")
        self._nearest = QListWidget()
        self._nearest.setToolTip("Double-click to select the folder in the tree")
        # long paths are elided in the middle: the label and similarity stay readable
        self._nearest.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self._nearest.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._nearest.itemActivated.connect(self._on_item_activated)
        self._message = QLabel()
        self._message.setWordWrap(True)
        self._message.setStyleSheet("color: #b00020;")
        self._message.hide()

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        for w in (self._title, self._busy, self._message, self._note, self._heuristic, self._top, self._legend,
                  self._nearest_title):
            lay.addWidget(w)
        lay.addWidget(self._nearest, 1)
        self._show_empty()

    # -- public ------------------------------------------------------------------------------
    @property
    def folder_id(self) -> int | None:
        return self._folder_id

    @property
    def explanation(self):
        return self._explanation

    def is_busy(self) -> bool:
        return self._service.is_busy()

    def message(self) -> str:
        return self._message.text() if not self._message.isHidden() else ""

    def show_folder(self, folder_id: int, name: str | None = None) -> None:
        """Explain ``folder_id`` (computed on a worker; the old request is discarded)."""
        self._folder_id = int(folder_id)
        self._folder_name = name or "the selected folder"  # never an internal id
        self._message.hide()
        self._busy.setValue(0)
        self._busy.show()
        first = not self._service.is_running()
        self._title.setText(
            f"Explaining “{name}”…" if name else "Explaining the selected folder…"
        )
        self._title.setText(
            self._title.text() + (" (loading the model the first time takes a few seconds)" if first else "")
        )
        fid = self._folder_id

        def done(result, error) -> None:
            if not isValid(self):
                return
            self._on_done(fid, result, error)

        self._service.explain(fid, done).progress_changed.connect(self._on_progress)

    def set_note(self, text: str | None) -> None:
        """A line above the explanation (the window puts a suspect label's verdict here)."""
        self._note.setText(text or "")
        self._note.setVisible(bool(text))

    def note(self) -> str:
        return self._note.text() if not self._note.isHidden() else ""

    def set_model(self, model: Any = None) -> None:
        """Explain with ``model`` from now on (a LoadedModel or a model folder; None = the newest
        trained model, else the baseline): call it after a training finishes."""
        self._service.set_model(model)
        if self._folder_id is not None:
            self.show_folder(self._folder_id)

    def clear(self) -> None:
        self._service.discard()
        self._folder_id = None
        self._explanation = None
        self._busy.hide()
        self._message.hide()
        self._title.setText("Select a folder to see why the model labels it as it does.")
        self._show_empty()

    # -- slots --------------------------------------------------------------------------------
    def _on_progress(self, fraction: float, _message: str) -> None:
        if isValid(self):
            self._busy.setValue(int(fraction * 100))

    def _on_done(self, folder_id: int, result, error: BaseException | None) -> None:
        if folder_id != self._folder_id:
            return
        self._busy.hide()
        if error is not None:
            if isinstance(error, Cancelled):
                return
            text = str(error) if isinstance(error, UserError) else f"Could not explain this folder: {error}"
            self._message.setText(text)
            self._message.show()
            self._title.setText(self._folder_name)
            self._show_empty()
            self.message_shown.emit(text)
            return
        self._show(result)

    def _on_item_activated(self, item: QListWidgetItem) -> None:
        fid = item.data(FolderIdRole)
        if fid is not None:
            self.folder_activated.emit(int(fid))

    # -- drawing ------------------------------------------------------------------------------
    def _show_empty(self) -> None:
        self._heuristic.setText("")
        self._top.setText("")
        self._legend.hide()
        self._nearest.clear()
        self._nearest_title.setVisible(False)
        self._nearest.setVisible(False)

    def _show(self, ex) -> None:
        self._explanation = ex
        title = ex.path or "(library root)"
        if ex.user_label:
            title += f"   — your label: {_title(ex.user_label)}"
        self._title.setText(title)
        if ex.heuristic_label:
            conf = f" ({ex.heuristic_confidence:.0%})" if ex.heuristic_confidence is not None else ""
            self._heuristic.setText(
                f"<b>Heuristic</b>: {html.escape(_title(ex.heuristic_label))}{conf}"
                f" — rule <code>{html.escape(ex.heuristic_rule or '-')}</code>"
            )
        else:
            self._heuristic.setText("<b>Heuristic</b>: no rule fired")
        rows = []
        for i, (label, p) in enumerate(ex.top3):
            color = label_color(label).name()
            width = max(1, int(round(p * 120)))
            # the same rule as the tree and the drill-down (fsorg_desktop.style.certainty)
            unsure = i == 0 and is_unsure(p, abstained=bool(getattr(ex, "abstained", False)))
            name = html.escape(shown_title(_title(label), unsure))
            if unsure:
                name = f"<span style='color:gray'>{name}</span>"
            rows.append(
                f"<tr><td>{name}</td>"
                f"<td><table cellspacing=0 cellpadding=0><tr><td bgcolor='{color}' width={width} height=10></td>"
                f"</tr></table></td><td align=right>&nbsp;{p:.0%}</td></tr>"
            )
        self._top.setText(
            f"<b>Model</b> <span style='color:gray'>({html.escape(ex.model)})</span>"
            f"<table cellspacing=4>{''.join(rows)}</table>"
        )
        self._legend.setVisible(True)
        self._nearest.clear()
        for n in ex.nearest:
            item = QListWidgetItem(
                label_icon(n.label), f"{n.similarity:.2f}   ·   {_title(n.label)}   ·   {n.path}"
            )
            item.setData(FolderIdRole, n.folder_id)
            item.setToolTip(f"{n.path}\nlabel: {n.label}\ncosine similarity: {n.similarity:.3f}")
            self._nearest.addItem(item)
        has = bool(ex.nearest)
        self._nearest_title.setVisible(True)
        self._nearest_title.setText("Nearest labelled folders" if has else "No labelled folders yet")
        self._nearest.setVisible(has)
        self.explanation_shown.emit(ex)

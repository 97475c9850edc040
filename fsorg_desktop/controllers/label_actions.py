"""Labelling from the keyboard and the Label menu: which view's selection a label applies to,
and what follows a label (the cursor moves on, a look-alike hint).

A controller apart from the window: it tracks which folder view (tree or sample table) had
the focus last, applies a label to that view's selection and moves its cursor on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject

if TYPE_CHECKING:
    from fsorg_desktop.controllers.host import Host
    from fsorg_desktop.views.folder_tree_view import FolderTreeView
    from fsorg_desktop.views.sample_view import SampleView


class LabelActions(QObject):
    def __init__(
        self,
        host: "Host",
        tree_view: "FolderTreeView",
        sample_view: "SampleView",
        *,
        labelled_one: Callable[[int, str], None],
    ) -> None:
        super().__init__(host.parent)
        self.h = host
        self.tree_view = tree_view
        self.sample_view = sample_view
        self._labelled_one = labelled_one  # one folder just got a label (look-alike hint)
        self._last_focused: QObject | None = None
        for w in (tree_view.tree, sample_view.table):
            w.installEventFilter(self)
        # The folder a label key set last, while the cursor is where the key moved it
        # (Ctrl+L then means that folder, not the next one the cursor landed on).
        self._just: int | None = None
        self._advanced_to: int | None = None
        self._expect_advance = False
        for view in (tree_view, sample_view):
            view.label_requested.connect(self.set_labels)
            view.folder_selected.connect(self._on_folder_selected)

    def focused_view(self):
        """The view whose selection a menu label action applies to (the last focused)."""
        return self.sample_view if self._last_focused is self.sample_view.table else self.tree_view

    def selected_ids(self) -> list[int]:
        return self.focused_view().selected_folder_ids()

    def label_selection(self, label: str | None) -> None:
        view = self.focused_view()
        ids = view.selected_folder_ids()
        if ids:
            self.set_labels(ids, label)
            view.advance()

    def set_labels(self, folder_ids: list[int], label: str | None) -> None:
        st = self.h.state
        if st is None or st.snapshot is None:
            return
        self.h.labels.set_labels(folder_ids, label)
        self._just, self._advanced_to, self._expect_advance = None, None, False
        if label is not None and len(folder_ids) == 1:
            self._just, self._expect_advance = folder_ids[0], True
            self._labelled_one(folder_ids[0], label)

    def just_labelled(self) -> int | None:
        """The folder just labelled, if the user has not moved the cursor since."""
        if self._just is None:
            return None
        sel = self.selected_ids()
        return self._just if sel in ([self._just], [self._advanced_to]) or not sel else None

    def _on_folder_selected(self, folder_id: int) -> None:
        if self._expect_advance:  # the label key's own move to the next row
            self._advanced_to, self._expect_advance = folder_id, False
        elif folder_id not in (self._just, self._advanced_to):
            self._just = None  # the user went elsewhere

    def return_to(self, folder_ids: list[int]) -> None:
        """After an undo: put the cursor back on the row the undone label was on."""
        if not folder_ids:
            return
        fid, view = folder_ids[0], self.focused_view()
        in_tree = self.tree_view.select_folder(fid)  # (the sample table follows the tree)
        if view is self.sample_view and self.sample_view.select_folder(fid):
            self.sample_view.table.setFocus()
        elif in_tree:
            self.tree_view.tree.setFocus()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FocusIn:
            self._last_focused = obj
        return super().eventFilter(obj, event)

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
        for view in (tree_view, sample_view):
            view.label_requested.connect(self.set_labels)

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
        if label is not None and len(folder_ids) == 1:
            self._labelled_one(folder_ids[0], label)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FocusIn:
            self._last_focused = obj
        return super().eventFilter(obj, event)

"""The folder tree's data: which snapshot it browses, fresh predictions after a model job,
file totals, the flat list of suspects.

A controller apart from the window: it owns the tree model's browser (one SQLite reader per
snapshot) and refreshes rows on the READ pool; it never builds views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from engine.browse import Browser
from fsorg_desktop.ops import library as lib_ops

if TYPE_CHECKING:
    from fsorg_desktop.controllers.host import Host
    from fsorg_desktop.library import LibraryState
    from fsorg_desktop.models.folder_tree_model import FolderTreeModel
    from fsorg_desktop.views.folder_tree_view import FolderTreeView


class TreeActions(QObject):
    def __init__(self, host: "Host", tree_model: "FolderTreeModel", tree_view: "FolderTreeView") -> None:
        super().__init__(host.parent)
        self.h = host
        self.model = tree_model
        self.view = tree_view

    def show_snapshot(self, state: "LibraryState | None") -> None:
        """Browse ``state``'s snapshot (None or no snapshot: an empty tree), then read the
        file totals below every folder in the background."""
        if state is None or state.snapshot is None:
            self.model.set_browser(None)
            return
        snap = state.snapshot
        self.model.set_root_title(state.root_name)
        self.model.set_browser(Browser.for_settings(state.settings, snap.id))
        br = self.model.browser

        def totals_read(totals, error) -> None:
            if error is None and self.model.browser is br:
                self.model.set_file_totals(totals)

        lib_ops.file_totals_op(self.h.runner, state.dbs, snap.id, totals_read)

    def refresh_predictions(self) -> None:
        """Re-read predictions for every loaded folder (after extract or predict)."""
        st = self.h.state
        if st is None or st.snapshot is None or self.model.browser is None:
            return
        br = self.model.browser
        br.refresh_prediction_run()

        def done(rows, error) -> None:
            if error is None and self.model.browser is br:
                self.model.update_rows(rows)

        lib_ops.read_rows_op(self.h.runner, st.settings, st.snapshot.id, self.model.loaded_ids(), done)

    def show_suspects(self, flags: list) -> None:
        if flags:
            self.view.show_suspects()  # the flat list of suspects, ⚠ in "Your label"
            self.view.tree.setFocus()

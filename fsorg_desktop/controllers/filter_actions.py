"""The tree's filter: search the snapshot on a worker and show the matches as a flat list.

A controller apart from the window: it reads the filter the tree view asks for, runs
:meth:`engine.browse.Browser.search` on a worker (a newer filter discards the older search)
and fills the tree model's flat list; clearing the filter gives the tree back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from engine.browse import Browser, FolderFilter
from engine.core.jobs import Cancelled
from fsorg_desktop.jobs import JobState, Pool

if TYPE_CHECKING:
    from fsorg_desktop.controllers.host import Host
    from fsorg_desktop.models.folder_tree_model import FolderTreeModel
    from fsorg_desktop.suspects import SuspectSet
    from fsorg_desktop.views.folder_tree_view import FolderTreeView

MAX_SHOWN = 2_000


class FilterActions(QObject):
    def __init__(
        self, host: "Host", tree_model: "FolderTreeModel", tree_view: "FolderTreeView", suspects: "SuspectSet"
    ) -> None:
        super().__init__(host.parent)
        self.h = host
        self.tree_model = tree_model
        self.tree_view = tree_view
        self.suspects = suspects
        self._job: JobState | None = None

    def apply(self, flt: FolderFilter) -> None:
        if self._job is not None:
            self._job.discard()
            self._job = None
        st = self.h.state
        if not flt.active or st is None or st.snapshot is None:
            self.tree_model.clear_flat()
            self.tree_view.set_filter_status("")
            return
        settings, snap, labels = st.settings, st.snapshot.id, self.h.labels.labels()
        suspects = [fid for fid in self.suspects.ids() if self.suspects.get(fid, labels.get(fid)) is not None]
        if flt.label_is == FolderFilter.SUSPECT and not suspects:
            self.tree_model.set_flat_rows([], False)
            self.tree_view.set_filter_status(
                "No suspect labels: run Model ▸ Find suspect labels (Ctrl+Shift+U) — clear the filter to see the tree"
                if not len(self.suspects) else "No suspect labels left — clear the filter to see the tree"
            )
            return
        self.tree_view.set_filter_status("Searching…")

        def work(progress, should_stop):
            b = Browser.for_settings(settings, snap)
            try:
                return b.search(flt, labels, should_stop=should_stop, suspects=suspects)
            finally:
                b.close()

        def done(result, error) -> None:
            self._job = None
            if error is not None:
                if not isinstance(error, Cancelled):
                    self.tree_view.set_filter_status(f"Filter failed: {error}")
                return
            rows, more = result
            if flt.label_is == FolderFilter.SUSPECT:  # most suspicious first, as the status bar says
                score = {fid: self.suspects.get(fid, labels.get(fid)) for fid in suspects}
                rows = sorted(rows, key=lambda r: -(score[r.id].score if score.get(r.id) else 0.0))
            self.tree_model.set_flat_rows(rows, more)
            n = len(rows)
            self.tree_view.set_filter_status(
                f"{n:,}{'+' if more else ''} matching folder{'s' if n != 1 else ''}"
                + (f" (first {MAX_SHOWN:,} shown; narrow the filter)" if more else "")
                + " — clear the filter to see the tree"
            )

        self._job = self.h.runner.run(work, done, pool=Pool.READ)

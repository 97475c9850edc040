"""Wires the Catalogue and Organize tabs into the main window (kept out of main_window.py).

``install_organize(window)`` adds both tabs to the side panel and follows the window:
a library opening gives both views its data folder; new model results mark the
catalogue stale (rebuilt when next shown); double-clicking an item reveals it in the tree.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QScrollArea, QWidget

from fsorg_desktop.views.catalogue_view import CatalogueView
from fsorg_desktop.views.organize_view import OrganizeView


@dataclass
class OrganizeTabs:
    catalogue: CatalogueView
    organize: OrganizeView
    catalogue_page: QWidget  # the tab pages (scroll areas holding the views)
    organize_page: QWidget


def _scrolled(view: QWidget) -> QScrollArea:
    """In a scroll area, so the view's minimum size never sets the window's (a 1366x768 laptop)."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(view)
    return area


def install_organize(window) -> OrganizeTabs:
    cat = CatalogueView(window.runner)
    org = OrganizeView(window.runner)
    tabs = window.side_tabs
    cat_page, org_page = _scrolled(cat), _scrolled(org)
    tabs.addTab(cat_page, "Catalogue")
    tabs.setTabToolTip(tabs.indexOf(cat_page), "Every item with its creator, asset type, tags and variants")
    tabs.addTab(org_page, "Organize")
    tabs.setTabToolTip(tabs.indexOf(org_page), "Propose a clean layout, preview it, apply it safely, undo it")

    def on_library(state) -> None:
        has = state is not None and state.snapshot is not None
        cat.set_library(state.settings if has else None)
        org.set_library(state.settings if has else None, state.snapshot.root if has else None)

    window.library_opened.connect(on_library)
    window.model_results_changed.connect(lambda _eval_id: cat.mark_stale())
    cat.folder_activated.connect(window.reveal_folder)
    org.applied.connect(lambda r: window.statusBar().showMessage(f"Organized: {r.files:,} files placed", 15_000))
    org.undone.connect(lambda r: window.statusBar().showMessage(f"Undone: {r.restored:,} files restored", 15_000))
    return OrganizeTabs(cat, org, cat_page, org_page)

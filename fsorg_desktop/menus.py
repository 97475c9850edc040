"""The window's menu bar and toolbar, and the texts of Help ▸ About and Help ▸ Keyboard shortcuts."""

from __future__ import annotations

import platform
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoGroup
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu

from engine import __version__
from fsorg_desktop.actions import Actions


@dataclass
class Menus:
    undo: QAction
    redo: QAction
    recent: QMenu
    label: QMenu
    show_explain: QAction


def build_menus(window: QMainWindow, a: Actions, undo_group: QUndoGroup, jobs_dock: QDockWidget) -> Menus:
    undo = undo_group.createUndoAction(window, "&Undo")
    undo.setShortcuts(QKeySequence.StandardKey.Undo)
    redo = undo_group.createRedoAction(window, "&Redo")
    redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    mb = window.menuBar()
    m = mb.addMenu("&File")
    m.addAction(a.open_folder)
    recent = m.addMenu("Open &recent")
    m.addAction(a.rescan)
    m.addSeparator()
    m.addAction(a.import_csv)
    m.addAction(a.export_sample)
    m.addAction(a.export_tree)
    m.addSeparator()
    m.addAction(a.quit)
    m = mb.addMenu("&Edit")
    m.addAction(undo)
    m.addAction(redo)
    m.addSeparator()
    m.addAction(a.find)
    label_menu = mb.addMenu("&Label")
    for act in a.label.values():
        label_menu.addAction(act)
    label_menu.addAction(a.clear_label)
    label_menu.addAction(a.look_alikes)
    label_menu.addSeparator()
    label_menu.addAction(a.generate_samples)
    label_menu.addAction(a.label_next)
    m = mb.addMenu("&Model")
    m.addAction(a.evaluate_baseline)
    m.addAction(a.zero_shot)
    m.addSeparator()
    m.addAction(a.train)
    m.addAction(a.predict)
    m.addAction(a.first_labels)
    m.addSeparator()
    m.addAction(a.find_suspects)
    m.addAction(a.learning_curves)
    m = mb.addMenu("&View")
    jobs_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+J"))
    m.addAction(jobs_dock.toggleViewAction())
    show_explain = m.addAction("&Explain the selected folder")
    show_explain.setShortcut(QKeySequence("Ctrl+Shift+X"))
    m = mb.addMenu("&Help")
    m.addAction(a.shortcuts)
    m.addAction(a.about)

    tb = window.addToolBar("Main")
    tb.setObjectName("mainToolbar")
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for act in (a.open_folder, a.generate_samples, a.label_next, a.import_csv, a.export_sample):
        tb.addAction(act)
    tb.addSeparator()
    for act in (a.evaluate_baseline, a.train, a.predict):
        tb.addAction(act)
    return Menus(undo, redo, recent, label_menu, show_explain)


def about_texts(data_dir: str) -> tuple[str, str]:
    """(text, informative text) of Help ▸ About."""
    from PySide6 import __version__ as qt_version

    return (
        f"<b>fsorg {__version__}</b><br>Bring order to chaotic asset libraries: scan, label a few "
        "folders, and let a small model label the rest.",
        f"Data folder: {data_dir}<br>Qt {qt_version} · Python {platform.python_version()}",
    )


def shortcuts_html() -> str:
    from engine.core.taxonomy import labels

    rows = "".join(f"<tr><td><b>{i}</b></td><td>{lb.title}</td></tr>" for i, lb in enumerate(labels(), 1))
    return (
        "<table>"
        f"{rows}<tr><td><b>0</b> / <b>Delete</b></td><td>Clear the label</td></tr>"
        "<tr><td><b>Ctrl+Z</b></td><td>Undo</td></tr>"
        "<tr><td><b>Ctrl+Shift+Z</b></td><td>Redo</td></tr>"
        "<tr><td><b>Ctrl+F</b></td><td>Filter folders</td></tr>"
        "<tr><td><b>Enter / ↓</b></td><td>Next row</td></tr>"
        "<tr><td><b>Ctrl+G</b></td><td>Generate samples</td></tr>"
        "<tr><td><b>Ctrl+Shift+N</b></td><td>Label next 20 (where the model hesitates)</td></tr>"
        "<tr><td><b>Ctrl+L</b></td><td>Apply the label to look-alikes</td></tr>"
        "<tr><td><b>Ctrl+Shift+U</b></td><td>Find suspect labels</td></tr>"
        "<tr><td><b>Ctrl+Shift+X</b></td><td>Explain the selected folder</td></tr>"
        "<tr><td><b>Ctrl+O</b></td><td>Open (or drop) a library folder</td></tr>"
        "</table>"
    )


SHORTCUTS_NOTE = (
    "After a label key the cursor moves to the next folder. Every other shortcut is listed next to its menu entry."
)


def fill_context_menu(menu: QMenu, a: Actions, show_explain: QAction) -> None:
    """The tree's and the sample table's right-click menu."""
    for act in a.label.values():
        menu.addAction(act)
    menu.addAction(a.clear_label)
    menu.addSeparator()
    menu.addAction(a.look_alikes)
    menu.addAction(show_explain)


def fill_recent_menu(menu: QMenu, items: list, open_recent) -> None:
    """File ▸ Open recent: one entry per library (its data folder in the tooltip)."""
    menu.clear()
    for lib in items:
        act = menu.addAction(lib.title)
        act.setToolTip(lib.data_dir)
        act.triggered.connect(lambda _=False, r=lib: open_recent(r))
    menu.setEnabled(bool(items))


def connect_help(a: Actions, dialogs, data_dir) -> None:
    """Help ▸ About and Help ▸ Keyboard shortcuts (non-blocking message boxes)."""
    a.about.triggered.connect(lambda: dialogs.message("About fsorg", *about_texts(data_dir())))
    a.shortcuts.triggered.connect(
        lambda: dialogs.message("Keyboard shortcuts", shortcuts_html(), informative=SHORTCUTS_NOTE)
    )

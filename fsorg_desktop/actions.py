"""The window's actions, created in one place with their shortcuts (Picard's
``mainwindow/actions.py``). Menus show each shortcut next to its entry, which is how a
user discovers the keys; the toolbar reuses the same actions."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QStyle, QWidget

from engine.core.taxonomy import labels
from fsorg_desktop.style.label_style import label_icon


@dataclass
class Actions:
    open_folder: QAction
    rescan: QAction
    export_sample: QAction
    export_tree: QAction
    import_csv: QAction
    quit: QAction
    generate_samples: QAction
    label: dict[str, QAction]
    clear_label: QAction
    find: QAction
    evaluate_baseline: QAction
    zero_shot: QAction
    train: QAction
    predict: QAction
    first_labels: QAction
    label_next: QAction
    find_suspects: QAction
    look_alikes: QAction
    learning_curves: QAction
    about: QAction
    shortcuts: QAction


def _act(parent: QWidget, text: str, shortcut=None, tip: str = "", icon=None) -> QAction:
    a = QAction(text, parent)
    if shortcut is not None:
        seqs = shortcut if isinstance(shortcut, list) else [shortcut]
        a.setShortcuts([QKeySequence(s) for s in seqs])
    if tip:
        a.setStatusTip(tip)
        a.setToolTip(f"{text.replace('&', '').rstrip('…')} — {tip}")
    if icon is not None:
        a.setIcon(parent.style().standardIcon(icon))
    return a


# Short toolbar texts: the full text is in the menus and the tooltip, and the whole toolbar
# must fit a 1024 px window without its » overflow.
_TOOLBAR_TEXT = {
    "open_folder": "Open",
    "generate_samples": "Sample",
    "label_next": "Label next 20",
    "import_csv": "Import",
    "export_sample": "Export",
    "evaluate_baseline": "Baseline",
    "train": "Train",
    "predict": "Predict all",
}


def create_actions(parent: QWidget) -> Actions:
    P = QStyle.StandardPixmap
    label_actions: dict[str, QAction] = {}
    for i, lb in enumerate(labels(), start=1):
        a = QAction(label_icon(lb.name), f"Label as {lb.title}", parent)
        a.setShortcut(QKeySequence(str(i)))
        # The key itself is handled by the focused tree/table (so typing "1" into the
        # filter box still types); the menu shows it and a click works on the selection.
        a.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        a.setStatusTip(lb.description)
        a.setData(lb.name)
        label_actions[lb.name] = a
    clear = QAction("Clear label", parent)
    clear.setShortcuts([QKeySequence("0"), QKeySequence(Qt.Key.Key_Delete)])
    clear.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
    acts = Actions(
        open_folder=_act(parent, "&Open library folder…", QKeySequence.StandardKey.Open,
                         "scan a folder (you can also drop it on the window)", P.SP_DirOpenIcon),
        rescan=_act(parent, "&Rescan", "F5", "scan the same folder again into a new snapshot", P.SP_BrowserReload),
        export_sample=_act(parent, "&Export sample as CSV…", "Ctrl+E",
                           "the sample table as the samples CSV, to label in a spreadsheet", P.SP_DialogSaveButton),
        export_tree=_act(parent, "Export &all folders with predictions…", "Ctrl+Shift+E",
                         "every folder with its prediction and your label"),
        import_csv=_act(parent, "&Import labelled CSV…", "Ctrl+I",
                        "add the labels of a filled-in samples CSV", P.SP_ArrowDown),
        quit=_act(parent, "&Quit", QKeySequence.StandardKey.Quit),
        generate_samples=_act(parent, "&Generate samples…", "Ctrl+G",
                              "pick a small diverse set of folders to label", P.SP_FileDialogListView),
        label=label_actions,
        clear_label=clear,
        find=_act(parent, "&Filter folders", QKeySequence.StandardKey.Find, "filter the tree by name or label"),
        evaluate_baseline=_act(parent, "Evaluate &baseline", "Ctrl+B",
                               "score the shipped baseline model on your labels", P.SP_MediaSeekForward),
        zero_shot=_act(parent, "Run &zero-shot", None, "score label descriptions alone on your labels"),
        train=_act(parent, "&Train model…", "Ctrl+T", "fine-tune a classifier on your labels", P.SP_MediaPlay),
        predict=_act(parent, "&Predict all folders", "Ctrl+P",
                     "label every folder with the newest model", P.SP_DialogApplyButton),
        first_labels=_act(parent, "Label new &libraries at once", None,
                          "after a scan, label every folder with your trained model or the shipped baseline"),
        label_next=_act(parent, "Label &next 20", "Ctrl+Shift+N",
                        "the unlabelled folders the model hesitates on most, as the sample", P.SP_FileDialogDetailedView),
        find_suspects=_act(parent, "Find &suspect labels", "Ctrl+Shift+U",
                           "labels a model trained without them strongly disagrees with", P.SP_MessageBoxWarning),
        look_alikes=_act(parent, "Apply label to &look-alikes…", "Ctrl+L",
                         "label the siblings and cousins with the same name shape in one undoable step"),
        learning_curves=_act(parent, "Label &efficiency…", None,
                             "Macro F1 against the number of labels: diverse sample versus label next"),
        about=_act(parent, "&About fsorg", None),
        shortcuts=_act(parent, "&Keyboard shortcuts", "F1"),
    )
    acts.first_labels.setCheckable(True)
    for name, text in _TOOLBAR_TEXT.items():
        getattr(acts, name).setIconText(text)
    return acts


def enable_for_library(a: Actions, has_library: bool, has_sample: bool) -> None:
    """Enable what needs an open library (and, for Export sample, a sample on screen)."""
    for act in (a.rescan, *a.label.values(), a.clear_label, a.find, a.generate_samples, a.export_tree,
                a.import_csv, a.evaluate_baseline, a.zero_shot, a.train, a.predict, a.label_next,
                a.find_suspects, a.look_alikes, a.learning_curves):
        act.setEnabled(has_library)
    a.export_sample.setEnabled(has_library and has_sample)

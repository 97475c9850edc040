"""The labeling keys, shared by the tree and the sample table: 1–6 set the label in
taxonomy order, 0 / Delete / Backspace clear it. One function, so both views and the
menus can never disagree about what a key does."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent

from engine.core.taxonomy import label_names

CLEAR = object()  # a key that clears the label

_CLEAR_KEYS = {Qt.Key.Key_0, Qt.Key.Key_Delete, Qt.Key.Key_Backspace}
_DIGITS = [Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_4, Qt.Key.Key_5, Qt.Key.Key_6,
           Qt.Key.Key_7, Qt.Key.Key_8, Qt.Key.Key_9]


def label_for_key(event: QKeyEvent) -> str | object | None:
    """The label a key press asks for, ``CLEAR``, or None when it is not a labeling key.

    Modified keys (Ctrl+1 …) are left alone so they can stay shortcuts; the keypad counts.
    """
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    if mods not in (Qt.KeyboardModifier.NoModifier,):
        return None
    key = event.key()
    if key in _CLEAR_KEYS:
        return CLEAR
    names = label_names()
    if key in _DIGITS:
        i = _DIGITS.index(key)
        if i < len(names):
            return names[i]
    return None

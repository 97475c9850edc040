"""Every app setting declared once, with its default, read through one accessor
(STYLE.md §20, Picard's ``options.py``).

Why not raw ``QSettings`` calls in widgets: keys and defaults scattered over files drift
apart, and tests must be able to point everything at a temporary file. The file is
versioned (``settings_version``) so a later release can migrate it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

SETTINGS_VERSION = 1
MAX_RECENT = 8


@dataclass(frozen=True)
class Option:
    key: str
    default: Any
    title: str


GEOMETRY = Option("window/geometry", QByteArray(), "Main window position and size")
WINDOW_STATE = Option("window/state", QByteArray(), "Docks and toolbars")
SPLITTER = Option("window/splitter", QByteArray(), "Tree / sample table split")
RECENT = Option("libraries/recent", "[]", "Recently opened libraries (JSON list)")
LAST_DATA_DIR = Option("libraries/last_data_dir", "", "Data folder opened last")
MODEL_LOAD_S = Option("models/load_seconds", 0.0, "Seconds this computer takes to load the base model (measured)")
TRAIN_SPEED = Option("models/train_speed_factor", 1.0, "Measured training time over the step estimate")
FIRST_LABELS = Option("models/first_labels", True, "Label every folder of a newly scanned library at once (baseline or trained model)")
LOW_CONFIDENCE = Option("tree/low_confidence", 0.5, "Below this a prediction counts as low confidence")


@dataclass(frozen=True)
class RecentLibrary:
    """A library the user opened: where its data lives and which folder was scanned."""

    data_dir: str
    root: str

    @property
    def title(self) -> str:
        return self.root or self.data_dir


class AppSettings:
    """The one accessor. ``qsettings`` defaults to the application's (org/app name)."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._s = qsettings if qsettings is not None else QSettings()
        if int(self._s.value("settings_version", 0) or 0) < SETTINGS_VERSION:
            self._s.setValue("settings_version", SETTINGS_VERSION)

    def get(self, opt: Option) -> Any:
        value = self._s.value(opt.key, opt.default)
        if isinstance(opt.default, QByteArray) and not isinstance(value, QByteArray):
            return QByteArray()
        if isinstance(opt.default, bool):  # an .ini file stores "true" / "false"
            return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes")
        if isinstance(opt.default, float):
            try:
                return float(value)
            except (TypeError, ValueError):
                return opt.default
        return value

    def set(self, opt: Option, value: Any) -> None:
        self._s.setValue(opt.key, value)

    def sync(self) -> None:
        self._s.sync()

    # -- recent libraries -------------------------------------------------------------------
    def recent(self) -> list[RecentLibrary]:
        try:
            items = json.loads(self.get(RECENT) or "[]")
            return [RecentLibrary(str(d["data_dir"]), str(d.get("root", ""))) for d in items][:MAX_RECENT]
        except (ValueError, TypeError, KeyError):
            return []  # a damaged entry must never stop the app from starting

    def add_recent(self, lib: RecentLibrary) -> None:
        items = [r for r in self.recent() if r != lib]
        items.insert(0, lib)
        self.set(RECENT, json.dumps([vars(r) for r in items[:MAX_RECENT]]))

    def remove_recent(self, lib: RecentLibrary) -> None:
        self.set(RECENT, json.dumps([vars(r) for r in self.recent() if r != lib]))


def restore_window(window, splitter, settings: AppSettings) -> None:
    """Geometry, docks and the tree / side split as they were; a first start fits the screen."""
    geo = settings.get(GEOMETRY)
    if isinstance(geo, QByteArray) and not geo.isEmpty():
        window.restoreGeometry(geo)
    else:
        screen = window.screen().availableGeometry() if window.screen() else None
        w, h = 1280, 800
        if screen is not None:  # a first start on a small screen must still fit
            w, h = min(w, int(screen.width() * 0.95)), min(h, int(screen.height() * 0.9))
        window.resize(w, h)
    st = settings.get(WINDOW_STATE)
    if isinstance(st, QByteArray) and not st.isEmpty():
        window.restoreState(st)
    elif getattr(window, "jobs_dock", None) is not None:
        window.jobs_dock.hide()  # first start: no empty panel; it opens when a job starts
    sp = settings.get(SPLITTER)
    if isinstance(sp, QByteArray) and not sp.isEmpty():
        splitter.restoreState(sp)
    else:
        splitter.setSizes([760, 520])


def save_window(window, splitter, settings: AppSettings) -> None:
    settings.set(GEOMETRY, window.saveGeometry())
    settings.set(WINDOW_STATE, window.saveState())
    settings.set(SPLITTER, splitter.saveState())
    settings.sync()

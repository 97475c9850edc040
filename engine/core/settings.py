"""Where fsorg keeps its data.

``StorageSettings.base_path`` is a per-user data directory (platformdirs) unless
the ``FS_ORGANIZER_BASE_PATH`` environment variable names another. Databases live
in ``<base>/data/`` and models in ``<base>/models/``. ``--storage DIR`` on the
command line (or in the app) names the *data folder itself*, as in the fine-tuning
guide's ``gather PATH --storage data`` -> ``data/index.db``; models then go to
``DIR/../models``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_BASE_PATH = "FS_ORGANIZER_BASE_PATH"
APP_NAME = "fsorg"


def default_base_path() -> Path:
    env = os.environ.get(ENV_BASE_PATH)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


@dataclass(frozen=True)
class StorageSettings:
    base_path: Path
    data_dir: Path

    @classmethod
    def default(cls) -> "StorageSettings":
        base = default_base_path()
        return cls(base_path=base, data_dir=base / "data")

    @classmethod
    def from_storage_arg(cls, storage: str | os.PathLike | None) -> "StorageSettings":
        """``--storage DIR`` names the data folder; ``None`` means the default."""
        if storage is None:
            return cls.default()
        data = Path(storage).expanduser().resolve()
        return cls(base_path=data.parent, data_dir=data)

    @property
    def index_db(self) -> Path:
        return self.data_dir / "index.db"

    @property
    def training_db(self) -> Path:
        return self.data_dir / "training.db"

    @property
    def models_dir(self) -> Path:
        return self.base_path / "models"

    @property
    def outputs_dir(self) -> Path:
        return self.base_path / "outputs"

    def ensure(self) -> "StorageSettings":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self

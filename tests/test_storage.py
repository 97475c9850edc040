"""Storage: migrations create exactly the declared schema; WAL; newer databases are refused."""

import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.jobs import UserError
from engine.settings import StorageSettings
from engine.storage import Databases
from engine.storage.db import HEADS
from engine.storage.schema import index_metadata, training_metadata


def test_migrations_match_schema(tmp_path):
    dbs = Databases.open(StorageSettings.from_storage_arg(tmp_path / "data"))
    for eng, md in ((dbs.index, index_metadata), (dbs.training, training_metadata)):
        with eng.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), md)
        assert diff == [], diff
    assert dbs.integrity_ok()
    with dbs.index.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEADS["index"]
    dbs.dispose()


def test_reopen_is_noop_and_keeps_data(tmp_path):
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    dbs = Databases.open(settings)
    with dbs.index.begin() as c:
        c.exec_driver_sql(
            "INSERT INTO snapshots (root, started_at, status) VALUES ('/x', 1.0, 'complete')"
        )
    dbs.dispose()
    dbs = Databases.open(settings)
    with dbs.index.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM snapshots").scalar() == 1
    dbs.dispose()


def test_newer_database_is_refused(tmp_path):
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    Databases.open(settings).dispose()
    con = sqlite3.connect(settings.index_db)
    con.execute("UPDATE alembic_version SET version_num='9999_from_the_future'")
    con.commit()
    con.close()
    with pytest.raises(UserError, match="newer fsorg"):
        Databases.open(settings)


def test_not_a_database_is_a_clear_error(tmp_path):
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    settings.index_db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError, match="not a readable fsorg database"):
        Databases.open(settings)


def test_storage_arg_and_env(tmp_path, monkeypatch):
    s = StorageSettings.from_storage_arg(tmp_path / "data")
    assert s.index_db == (tmp_path / "data" / "index.db").resolve()
    monkeypatch.setenv("FS_ORGANIZER_BASE_PATH", str(tmp_path / "base"))
    d = StorageSettings.default()
    assert d.training_db == tmp_path / "base" / "data" / "training.db"
    assert d.models_dir == tmp_path / "base" / "models"

"""Storage: migrations create exactly the declared schema; WAL; newer databases are refused."""

import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.core.jobs import UserError
from engine.core.settings import StorageSettings
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


def test_older_training_db_is_migrated_and_keeps_its_data(tmp_path):
    """A training.db made by an fsorg of schema 0001 opens, gains predictions.abstained, keeps rows."""
    from alembic import command
    from alembic.config import Config

    from engine.storage.db import MIGRATIONS, make_engine

    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    settings.ensure()
    old = make_engine(settings.training_db)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS / "training"))
    with old.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001_training_initial")
    with old.begin() as c:
        c.exec_driver_sql(
            "INSERT INTO prediction_runs (id, kind, snapshot_id, labeled_only, labels, created_at, status) "
            "VALUES (1, 'baseline', 1, 0, '[\"other\"]', 1.0, 'complete')"
        )
        c.exec_driver_sql(
            "INSERT INTO predictions (prediction_run_id, folder_id, label, confidence, probs) "
            "VALUES (1, 7, 'other', 0.9, x'00')"
        )
        cols = [r[1] for r in c.exec_driver_sql("PRAGMA table_info(predictions)")]
    old.dispose()
    assert "abstained" not in cols

    dbs = Databases.open(settings)
    with dbs.training.connect() as c:
        cols = [r[1] for r in c.exec_driver_sql("PRAGMA table_info(predictions)")]
        row = c.exec_driver_sql("SELECT folder_id, label, abstained FROM predictions").one()
        version = c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    dbs.dispose()
    assert "abstained" in cols
    assert tuple(row) == (7, "other", None)
    assert version == HEADS["training"]

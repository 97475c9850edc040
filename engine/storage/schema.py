"""Table definitions (SQLAlchemy Core). The Alembic migrations in
``engine/storage/migrations/`` create exactly these tables; a test compares them.

Folder ids are global (unique across snapshots), so ``training.db`` can refer to a
folder by id alone; labels also keep the folder's relative path so they survive a
rescan (a new snapshot gives new ids, and labels are matched back by path).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# ----------------------------------------------------------------------------- index.db
index_metadata = MetaData()

snapshots = Table(
    "snapshots",
    index_metadata,
    Column("id", Integer, primary_key=True),
    Column("root", Text, nullable=False),  # absolute path of the scanned root, readable form
    Column("root_raw", LargeBinary),  # os.fsencode(root) when it is not valid UTF-8
    Column("started_at", Float, nullable=False),  # unix time
    Column("finished_at", Float),
    Column("status", String(16), nullable=False),  # running | complete | cancelled | failed
    Column("folder_count", Integer, nullable=False, server_default="0"),
    Column("file_count", Integer, nullable=False, server_default="0"),
    Column("error_count", Integer, nullable=False, server_default="0"),
    Column("total_bytes", Integer, nullable=False, server_default="0"),
    # entries seen but not recorded: symbolic links, junctions, fifos/sockets/devices (never followed)
    Column("skipped_count", Integer, nullable=False, server_default="0"),
    Column("fsorg_version", String(32)),
    Column("message", Text),
    Column("uuid", String(36)),  # this snapshot's identity (unique across every index.db)
)

# One row: this index.db's identity. training.db records it (index_binding) so labels never
# attach to the folders of another library gathered into a recreated index.db.
index_identity = Table(
    "index_identity",
    index_metadata,
    Column("uuid", String(36), primary_key=True),
    Column("created_at", Float, nullable=False),
)

folders = Table(
    "folders",
    index_metadata,
    Column("id", Integer, primary_key=True),
    Column("snapshot_id", Integer, ForeignKey("snapshots.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", Integer),  # NULL for the root folder
    Column("rel_path", Text, nullable=False),  # '' for the root, '/' separators, readable form
    Column("name", Text, nullable=False),  # readable form (undecodable bytes as \xNN)
    Column("raw_name", LargeBinary),  # exact bytes of the name when not valid UTF-8
    Column("depth", Integer, nullable=False),  # root = 0
    Column("file_count", Integer, nullable=False, server_default="0"),  # direct files
    Column("subfolder_count", Integer, nullable=False, server_default="0"),  # direct subfolders
    Column("total_size", Integer, nullable=False, server_default="0"),  # bytes of direct files
    Column("mtime", Float),
    Index("ix_folders_snapshot_parent", "snapshot_id", "parent_id"),
    Index("ix_folders_snapshot_path", "snapshot_id", "rel_path"),
)

files = Table(
    "files",
    index_metadata,
    Column("id", Integer, primary_key=True),
    Column("folder_id", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("raw_name", LargeBinary),
    Column("ext", String(64), nullable=False),  # lower-case, without the dot; '' when none
    Column("size", Integer, nullable=False),
    Column("mtime", Float),
    Index("ix_files_folder", "folder_id"),
)

scan_errors = Table(
    "scan_errors",
    index_metadata,
    Column("id", Integer, primary_key=True),
    Column("snapshot_id", Integer, ForeignKey("snapshots.id", ondelete="CASCADE"), nullable=False),
    Column("path", Text, nullable=False),  # relative to the root, readable form
    Column("reason", Text, nullable=False),
    Index("ix_scan_errors_snapshot", "snapshot_id"),
)

# -------------------------------------------------------------------------- training.db
training_metadata = MetaData()

folder_features = Table(
    "folder_features",
    training_metadata,
    Column("folder_id", Integer, primary_key=True),
    Column("snapshot_id", Integer, nullable=False),
    Column("rel_path", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("norm_name", Text, nullable=False),
    Column("depth", Integer, nullable=False),
    Column("parent_name", Text),
    Column("grandparent_name", Text),
    Column("children", Text, nullable=False, server_default="[]"),  # JSON list of names
    Column("siblings", Text, nullable=False, server_default="[]"),  # JSON list of names
    Column("top_exts", Text, nullable=False, server_default="[]"),  # JSON [[ext, count], ...]
    Column("file_count", Integer, nullable=False, server_default="0"),
    Column("subfolder_count", Integer, nullable=False, server_default="0"),
    Column("flags", Text, nullable=False, server_default="{}"),  # JSON {flag: value}
    Column("model_text", Text, nullable=False),  # the text fed to the model
    Column("heuristic_label", String(32)),
    Column("heuristic_confidence", Float),
    Column("heuristic_rule", String(64)),
    Index("ix_features_snapshot", "snapshot_id"),
)

# One row: the index.db (its uuid, and the roots its snapshots scanned) these labels belong to.
index_binding = Table(
    "index_binding",
    training_metadata,
    Column("id", Integer, primary_key=True),
    Column("index_uuid", String(36), nullable=False),
    Column("roots", Text, nullable=False, server_default="[]"),  # JSON list of scanned roots
    Column("bound_at", Float, nullable=False),
)

label_runs = Table(
    "label_runs",
    training_metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("labeler", Text, nullable=False),
    Column("source", Text, nullable=False),  # csv:<file> | app | ...
    Column("snapshot_id", Integer),
    Column("note", Text),
)

labels = Table(
    "labels",
    training_metadata,
    Column("id", Integer, primary_key=True),
    Column("label_run_id", Integer, ForeignKey("label_runs.id", ondelete="CASCADE"), nullable=False),
    Column("folder_id", Integer, nullable=False),
    Column("snapshot_id", Integer, nullable=False),
    Column("rel_path", Text, nullable=False),
    Column("label", String(32), nullable=False),
    Column("split", String(16)),  # train | validation | test
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("label_run_id", "folder_id", name="uq_labels_run_folder"),
    Index("ix_labels_folder", "folder_id"),
)

models = Table(
    "models",
    training_metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # finetuned | baseline | zero_shot
    Column("path", Text),
    Column("base_model", Text),
    Column("label_run_id", Integer),
    Column("created_at", Float, nullable=False),
    Column("config", Text, nullable=False, server_default="{}"),  # JSON
    Column("metrics", Text, nullable=False, server_default="{}"),  # JSON
)

prediction_runs = Table(
    "prediction_runs",
    training_metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer),
    Column("kind", String(16), nullable=False),  # finetuned | baseline | zero_shot
    Column("snapshot_id", Integer, nullable=False),
    Column("label_run_id", Integer),
    Column("labeled_only", Boolean, nullable=False, server_default="0"),
    Column("split", String(16)),
    Column("labels", Text, nullable=False),  # JSON list: the order of `probs`
    Column("created_at", Float, nullable=False),
    Column("status", String(16), nullable=False, server_default="complete"),
    Column("owner", Text),  # 'pid@host' storing the run; a dead owner's 'running' run is removed
)

predictions = Table(
    "predictions",
    training_metadata,
    Column("prediction_run_id", Integer, ForeignKey("prediction_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("folder_id", Integer, primary_key=True),
    Column("label", String(32), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("probs", LargeBinary, nullable=False),  # float32 array in prediction_runs.labels order
    # True when the model's confidence is below its stored per-class abstention threshold:
    # ``label`` stays the argmax of ``probs``; the final answer is ``unknown``. NULL: the
    # model had no thresholds (baseline, zero-shot, abstention off).
    Column("abstained", Boolean, nullable=True),
    Index("ix_predictions_folder", "folder_id"),
)

eval_runs = Table(
    "eval_runs",
    training_metadata,
    Column("id", Integer, primary_key=True),
    Column("prediction_run_id", Integer),
    Column("model_id", Integer),
    Column("kind", String(16), nullable=False),
    Column("label_run_id", Integer),
    Column("split", String(16)),
    Column("created_at", Float, nullable=False),
    Column("n", Integer, nullable=False),
    Column("macro_f1", Float, nullable=False),
    Column("report", Text, nullable=False),  # JSON: see engine.evaluation.report.Report.to_dict
    # engine.evaluation.report.folder_set_key of the scored folders: History and Compare only
    # connect or subtract runs with equal keys (NULL: stored before fsorg recorded it).
    Column("folder_set", String(64)),
)

embedding_cache = Table(
    "embedding_cache",
    training_metadata,
    Column("model_key", String(64), primary_key=True),  # hash of the body's weights / name
    Column("text", Text, primary_key=True),
    Column("vector", LargeBinary, nullable=False),  # float32
)

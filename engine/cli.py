"""The command line: ``fsorg`` / ``python organizer.py``.

A table of subcommands, each naming the module that runs it; a module is imported
only when its command runs, so ``--help`` never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass

from engine import __version__


@dataclass(frozen=True)
class Command:
    name: str
    module: str  # engine.commands.<module>, with run(args) -> int
    help: str
    description: str
    epilog: str = ""


GATHER = Command(
    "gather",
    "gather",
    "scan a library folder into a new snapshot",
    "Scan PATH (the root of your asset library) into a new snapshot in DIR/index.db: every "
    "folder and every file (name, extension, size, modification time). Unreadable folders "
    "are recorded as scan errors and the scan goes on; symbolic links are not followed. "
    "Ctrl-C stops cleanly and marks the snapshot cancelled. Rescanning makes a new snapshot.",
    "example:\n  python organizer.py gather ~/Assets/Maps --storage data",
)

MODEL_COMMANDS = [
    Command(
        "extract-features",
        "extract_features",
        "compute per-folder features and the model text",
        "Compute features for every folder of a snapshot (name, normalized name, parents, "
        "children, siblings, file extensions, counts, flags, the text fed to the model and the "
        "heuristic's first guess) and store them in training.db. Re-running is safe.",
        "example:\n  python organizer.py model extract-features --snapshot-id 1",
    ),
    Command(
        "generate-samples",
        "generate_samples",
        "pick a small diverse set of folders to label (CSV)",
        "Pick sample_size folders to label, spread over depths, parents, heuristic labels and "
        "name shapes, and write them to a CSV with an empty 'label' column and context columns. "
        "Folders labelled in the newest label run are never offered again.",
        "example:\n  python organizer.py model generate-samples --output-csv outputs/baseline_eval.csv",
    ),
    Command(
        "apply-classifications",
        "apply_classifications",
        "import a labelled samples CSV as a new label run",
        "Validate every row of a labelled CSV (known folder, label in the taxonomy, no "
        "conflicting duplicates) and then store all labels as a new label run in one "
        "transaction. If any row is invalid nothing is written and each bad row is listed.",
        "example:\n  python organizer.py model apply-classifications --input-csv outputs/baseline_eval.csv",
    ),
    Command(
        "train",
        "train",
        "fine-tune a classifier on a label run (SetFit + hard negatives)",
        "Fine-tune the sentence model on labelled folders with contrastive pairs mined as hard "
        "negatives, fit a class-balanced head, print the evaluation report on the held-out "
        "split and save the model folder atomically.",
        "example:\n  python organizer.py model train --model-path ./models/my_classifier",
    ),
    Command(
        "predict",
        "predict",
        "label every folder with a trained model or the baseline",
        "Predict a label, a confidence and per-class probabilities for every folder (or only "
        "the labelled ones), store them in training.db, and print the evaluation report where "
        "labels exist. Set use_baseline=true in the config to use the shipped baseline.",
        "examples:\n  python organizer.py model predict --model-path ./models/my_classifier\n"
        "  python organizer.py model predict --config config/fine_tuning/predict_baseline.json",
    ),
    Command(
        "zero-shot",
        "zero_shot",
        "classify with the taxonomy's descriptions only (no training)",
        "Classify folders by similarity to the taxonomy's label descriptions and examples, "
        "without any of your labels, and print the evaluation report against a label run.",
        "example:\n  python organizer.py model zero-shot --split test",
    ),
    Command(
        "suspects",
        "suspects",
        "list labels the model strongly disagrees with (likely slips)",
        "Predict every labelled folder with a head that never saw its label (k-fold, out of fold, on "
        "the frozen base model) and rank the labels by how strongly the model prefers another label. "
        "Labels of a class with fewer than 3 examples are not judged.",
        "examples:\n  python organizer.py model suspects --top 20\n"
        "  python organizer.py model suspects --label-run-id 3 --output-csv outputs/suspects.csv",
    ),
]


ORGANIZE_COMMANDS = [
    Command(
        "catalogue",
        "organize_catalogue",
        "list every item with its creator, asset type, tags and variants",
        "Build the catalogue of the newest snapshot: every content_subject folder (or folder of "
        "files without a subject above it) with its creator, asset type, descriptor tags and "
        "variant group (with the rule that grouped it). Your labels win over the newest "
        "predictions; unknown or abstained folders are listed as such, never guessed.",
        "example:\n  python organizer.py organize catalogue --output-csv outputs/catalogue.csv",
    ),
    Command(
        "plan",
        "organize_plan",
        "propose a clean layout and write it as a reviewable CSV",
        "Place every folder with files by a template (default "
        "{creator}/{asset_type}/{subject}/{variant}), find and resolve conflicts (two folders "
        "to one path, names the filesystem refuses, paths too long) and write the plan CSV. "
        "Nothing but the CSV is written.",
        "example:\n  python organizer.py organize plan --target ~/Assets-organized --output plan.csv",
    ),
    Command(
        "apply",
        "organize_apply",
        "build the new tree from a plan (link, symlink, copy or move), with a journal",
        "Carry out a plan. link (default), symlink and copy build a separate tree and never "
        "touch the library; move moves the files. A journal is written before every change: "
        "after Ctrl-C or a crash the same command resumes, and 'organize undo JOURNAL' restores "
        "the previous state. No file is ever overwritten.",
        "example:\n  python organizer.py organize apply plan.csv --mode link --target ~/Assets-organized",
    ),
    Command(
        "undo",
        "organize_undo",
        "undo an apply from its journal",
        "Undo every change recorded in a journal (finished or interrupted), newest first. "
        "Files changed since they were placed are kept and listed.",
        "example:\n  python organizer.py organize undo data/journals/organize-20260101-120000-1-link.jsonl",
    ),
]


def _add_command(sub, cmd) -> argparse.ArgumentParser:
    """One subcommand's parser from its table row, with ``--storage``."""
    p = sub.add_parser(
        cmd.name,
        help=cmd.help,
        description=cmd.description,
        epilog=cmd.epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_storage(p)
    return p


def _add_storage(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--storage",
        metavar="DIR",
        help="data folder holding index.db and training.db (default: the per-user data folder, "
        "or $FS_ORGANIZER_BASE_PATH/data)",
    )


def _add_config(p: argparse.ArgumentParser, command: str) -> None:
    p.add_argument(
        "--config",
        metavar="F",
        help=f"JSON config that overrides config/fine_tuning/{command}.json",
    )


def program_name() -> str:
    """How the user started fsorg: ``python organizer.py`` or ``fsorg`` (the console script).
    (engine.commands.hints has the same two lines: --help must not import a command package.)"""
    return "python organizer.py" if os.path.basename(sys.argv[0]) == "organizer.py" else "fsorg"


def build_parser() -> argparse.ArgumentParser:
    prog = program_name()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="fsorg: scan a messy asset library, label a few folders, let a model label the rest.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Run '{prog} COMMAND --help' for a command's options. The desktop app is 'fsorg-desktop'.",
    )
    parser.add_argument("--version", action="version", version=f"fsorg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser(
        GATHER.name,
        help=GATHER.help,
        description=GATHER.description,
        epilog=GATHER.epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument("path", metavar="PATH", help="root folder of the library to scan")
    _add_storage(g)
    g.set_defaults(_command=GATHER)

    model = sub.add_parser(
        "model",
        help="features, samples, labels, training and prediction",
        description="The fine-tuning workflow: extract-features, generate-samples, "
        "apply-classifications, predict (baseline), train, predict, zero-shot.",
    )
    msub = model.add_subparsers(dest="model_command", metavar="MODEL_COMMAND")
    for cmd in MODEL_COMMANDS:
        p = _add_command(msub, cmd)
        _add_config(p, cmd.module)
        if cmd.name in ("extract-features", "generate-samples"):
            p.add_argument("--snapshot-id", type=int, metavar="N", help="snapshot (default: latest complete)")
        if cmd.name == "generate-samples":
            p.add_argument("--output-csv", metavar="F", required=True, help="where to write the samples CSV")
            p.add_argument("--sample-size", type=int, metavar="N", help="override sample_size")
            p.add_argument(
                "--strategy",
                choices=("diverse", "uncertainty"),
                help="override the config's strategy: diverse (spread over the library) or uncertainty "
                "(what the model hesitates on, plus one folder of each big unlabelled family of look-alikes)",
            )
        if cmd.name == "apply-classifications":
            p.add_argument(
                "--input-csv",
                metavar="F",
                help="labelled CSV (default: <storage>/samples.csv)",
            )
        if cmd.name == "train":
            p.add_argument(
                "--model-path",
                metavar="DIR",
                help="where to save the model folder (default: models/my_classifier beside the data "
                "folder: --storage data saves to models/my_classifier; without --storage, "
                "$FS_ORGANIZER_BASE_PATH/models/my_classifier or the per-user data folder's, "
                "~/.local/share/fsorg/models/my_classifier on Linux). A model already there is kept "
                "as <folder>.previous",
            )
        if cmd.name == "predict":
            p.add_argument(
                "--model-path",
                metavar="DIR",
                help="model folder to predict with (default: the newest trained model; "
                "use_baseline=true in the config: the shipped baseline)",
            )
            p.add_argument(
                "--snapshot-id", type=int, metavar="N",
                help="predict every folder of this snapshot (default: the labelled snapshot, else the "
                "newest with features; e.g. after a rescan, the new one)",
            )
        if cmd.name in ("train", "predict", "zero-shot", "suspects"):
            p.add_argument("--label-run-id", type=int, metavar="N", help="label run (default: newest)")
        if cmd.name == "suspects":
            p.add_argument("--top", type=int, metavar="N", help="how many to print (default 20)")
            p.add_argument("--k-folds", type=int, metavar="K", help="override k_folds (default 5)")
            p.add_argument(
                "--output-csv", metavar="F", help="also write every judged label, ranked, to this CSV"
            )
        if cmd.name in ("predict", "zero-shot"):
            p.add_argument("--split", choices=("train", "validation", "test"), help="only this split")
            p.add_argument("--output-csv", metavar="F", help="also write the predictions to this CSV")
        if cmd.name == "predict":
            p.add_argument(
                "--trust-pickle",
                action="store_true",
                help="allow loading a model folder that needs pickle (only for folders you trust)",
            )
            p.add_argument(
                "--include-training-folders",
                action="store_true",
                help="also score the labelled folders the model learned from (the report is then "
                "titled as training-set figures: what it remembers, not how good it is)",
            )
        p.set_defaults(_command=cmd)
    model.set_defaults(_model_parser=model)
    _add_organize(sub)
    return parser


def _add_organize(sub) -> None:
    org = sub.add_parser(
        "organize",
        help="catalogue, variant groups, a proposed layout, apply safely and undo",
        description="From labels to order: catalogue, plan, apply, undo.",
    )
    osub = org.add_subparsers(dest="organize_command", metavar="ORGANIZE_COMMAND")
    for cmd in ORGANIZE_COMMANDS:
        p = _add_command(osub, cmd)
        if cmd.name in ("catalogue", "plan"):
            p.add_argument("--snapshot-id", type=int, metavar="N", help="snapshot (default: latest complete)")
        if cmd.name == "catalogue":
            p.add_argument("--output-csv", metavar="F", help="write the items as CSV")
            p.add_argument("--output-json", metavar="F", help="write the items and variant groups as JSON")
        if cmd.name == "plan":
            p.add_argument("--template", metavar="T", help="target layout (default {creator}/{asset_type}/{subject}/{variant})")
            p.add_argument("--target", metavar="DIR", required=True, help="root of the new tree")
            p.add_argument("--output", metavar="F", required=True, help="where to write the plan CSV")
            p.add_argument("--max-path", type=int, metavar="N", help="longest path allowed, in bytes (default 1024)")
        if cmd.name == "apply":
            p.add_argument("plan", metavar="PLAN", help="plan CSV written by 'organize plan'")
            p.add_argument("--mode", choices=("link", "symlink", "copy", "move"), default="link",
                           help="link (default): hard links; symlink; copy; move (moves the originals)")
            p.add_argument("--target", metavar="DIR", required=True, help="root of the new tree")
            p.add_argument("--journal", metavar="F", help="resume this journal (default: found automatically)")
        if cmd.name == "undo":
            p.add_argument("journal", metavar="JOURNAL", help="journal printed by 'organize apply'")
        p.set_defaults(_command=cmd)
    org.set_defaults(_model_parser=org)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cmd: Command | None = getattr(args, "_command", None)
    if cmd is None:
        if getattr(args, "_model_parser", None) is not None:
            args._model_parser.print_help()
        else:
            parser.print_help()
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from engine.core.jobs import Cancelled, UserError

    try:
        module = importlib.import_module(f"engine.commands.{cmd.module}")
        if cmd is GATHER:
            return int(module.run(args) or 0)
        from engine.storage.db import scanned_data_only

        with scanned_data_only():  # only gather makes a new data folder; a failed command leaves none
            return int(module.run(args) or 0)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        if e.details:
            print(e.details, file=sys.stderr)
        return e.exit_code
    except Cancelled as e:
        print(f"cancelled: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - the last resort: one readable line, details in a log
        if _missing_dependency(e):
            print(MISSING_DEPENDENCIES, file=sys.stderr)
            return 2
        from engine.core.errors import environment_error

        if (env_error := environment_error(e, _data_dir(args))) is not None:  # full disk, permissions, read-only
            print(f"error: {env_error}", file=sys.stderr)
            return 2
        log = _write_crash_log(args)
        print(
            f"error: fsorg hit an unexpected problem: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}\n"
            f"Nothing was half-written (every write is a transaction). This is a bug in fsorg; "
            f"the details are in {log}. Set FSORG_DEBUG=1 to see them here.",
            file=sys.stderr,
        )
        if os.environ.get("FSORG_DEBUG"):
            raise
        return 1


MISSING_DEPENDENCIES = (
    "error: fsorg's dependencies are not installed in this Python: run `bash scripts/dev.sh setup`, "
    "or use `bash scripts/dev.sh cli …`"
)


def _missing_dependency(e: BaseException) -> bool:
    """True when ``e`` is a third-party package missing from this Python (not a bug in fsorg)."""
    if not isinstance(e, ModuleNotFoundError) or not e.name:
        return False
    return e.name.partition(".")[0] not in ("engine", "fsorg_desktop")


def _data_dir(args: argparse.Namespace):
    try:
        from engine.core.settings import StorageSettings

        return StorageSettings.from_storage_arg(getattr(args, "storage", None)).data_dir
    except Exception:  # noqa: BLE001 - only a hint for the message
        return None


def _write_crash_log(args: argparse.Namespace) -> str:
    """Write the current exception's traceback to a log file; return where (or why not)."""
    import tempfile
    import time
    import traceback

    text = f"fsorg {__version__}\nargv: {sys.argv}\n\n{traceback.format_exc()}"
    try:  # the per-user log folder (never next to someone's data, never a guessable /tmp name)
        from platformdirs import user_log_path

        folder = user_log_path("fsorg", appauthor=False)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"fsorg-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        path.write_text(text, encoding="utf-8")
        return str(path)
    except OSError:
        pass
    try:
        fd, name = tempfile.mkstemp(prefix="fsorg-error-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return name
    except OSError as e:
        return f"(no log: {e.strerror})"


if __name__ == "__main__":
    sys.exit(main())

"""The ``Next: python organizer.py …`` lines the commands print, made to be pasted as they are:
they start the way the user started fsorg (``python organizer.py`` or ``fsorg``) and repeat the
options that chose the data (``--storage DIR``, ``--snapshot-id N``, ``--label-run-id N``) when
the user gave them, quoted for the shell. Standard library only (``--help`` imports this)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

# option flag -> argparse attribute, in the order they are repeated
DATA_OPTIONS = (("--storage", "storage"), ("--snapshot-id", "snapshot_id"), ("--label-run-id", "label_run_id"))


def program_name() -> str:
    """How the user started fsorg: ``python organizer.py`` or ``fsorg`` (the console script)."""
    return "python organizer.py" if os.path.basename(sys.argv[0]) == "organizer.py" else "fsorg"


def command(args: argparse.Namespace, *words: object, repeat: tuple[str, ...] = ("--storage",)) -> str:
    """``python organizer.py WORDS…`` plus each option of ``repeat`` the user gave (``args``)."""
    parts = [program_name(), *(shlex.quote(str(w)) for w in words)]
    for flag, attr in DATA_OPTIONS:
        value = getattr(args, attr, None)
        if flag in repeat and value is not None:
            parts += [flag, shlex.quote(str(value))]
    return " ".join(parts)

"""The ``Next: python organizer.py …`` lines the commands print, made to be pasted as they are:
they repeat the options that chose the data (``--storage DIR``, ``--snapshot-id N``,
``--label-run-id N``) when the user gave them, quoted for the shell."""

from __future__ import annotations

import argparse
import shlex

# option flag -> argparse attribute, in the order they are repeated
DATA_OPTIONS = (("--storage", "storage"), ("--snapshot-id", "snapshot_id"), ("--label-run-id", "label_run_id"))


def command(args: argparse.Namespace, *words: object, repeat: tuple[str, ...] = ("--storage",)) -> str:
    """``python organizer.py WORDS…`` plus each option of ``repeat`` the user gave (``args``)."""
    parts = ["python organizer.py", *(shlex.quote(str(w)) for w in words)]
    for flag, attr in DATA_OPTIONS:
        value = getattr(args, attr, None)
        if flag in repeat and value is not None:
            parts += [flag, shlex.quote(str(value))]
    return " ".join(parts)

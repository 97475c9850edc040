"""CLI command: gather."""

from engine.jobs import UserError


def run(args) -> int:
    raise UserError("'gather' is not implemented yet in this version of fsorg.")

"""CLI command: predict."""

from engine.jobs import UserError


def run(args) -> int:
    raise UserError("'predict' is not implemented yet in this version of fsorg.")

"""CLI command: train."""

from engine.jobs import UserError


def run(args) -> int:
    raise UserError("'train' is not implemented yet in this version of fsorg.")

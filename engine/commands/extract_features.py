"""CLI command: extract_features."""

from engine.jobs import UserError


def run(args) -> int:
    raise UserError("'extract-features' is not implemented yet in this version of fsorg.")

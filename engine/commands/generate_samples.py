"""CLI command: generate_samples."""

from engine.jobs import UserError


def run(args) -> int:
    raise UserError("'generate-samples' is not implemented yet in this version of fsorg.")

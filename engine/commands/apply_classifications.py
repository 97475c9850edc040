"""CLI command: apply_classifications."""

from engine.jobs import UserError


def run(args) -> int:
    raise UserError("'apply-classifications' is not implemented yet in this version of fsorg.")

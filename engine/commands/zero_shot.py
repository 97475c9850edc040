"""CLI command: zero_shot."""

from engine.jobs import UserError


def run(args) -> int:
    raise UserError("'zero-shot' is not implemented yet in this version of fsorg.")

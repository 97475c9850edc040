"""Organize: turn labels into order (catalogue, variant groups, layout plans, apply and undo)."""

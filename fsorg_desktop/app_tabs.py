"""The views ``--screenshot --tab`` can show (kept free of Qt: the argument parser reads it)."""

SCREENSHOT_TABS = ("welcome", "tree", "sample", "results", "explain", "catalogue", "organize")

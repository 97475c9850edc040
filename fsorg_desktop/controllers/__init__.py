"""Per-domain action handlers the main window wires its actions and views to."""

"""Evaluation: the report (Macro F1, per class, confusion), stored eval runs, their queries and exports."""

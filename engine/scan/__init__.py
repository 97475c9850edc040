"""Scan: walk a library folder into a snapshot in index.db (walker, lock, gather, snapshots)."""

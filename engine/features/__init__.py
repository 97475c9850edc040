"""Features: one row per folder (names, neighbours, counts, file types) plus the rule-based first guess."""

"""The window's side tabs that own more than a view: Results (built lazily per library) and
Explain (owns the library's Explain service)."""

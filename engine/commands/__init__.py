"""One module per CLI command, each with ``run(args) -> int``; imported only when it runs."""

"""Active learning: label next, learning curves, suspect labels, look-alikes and explanations."""

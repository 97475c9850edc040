"""Samples: pick a small, diverse set of folders to label and write the samples CSV."""

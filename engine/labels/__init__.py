"""Labels: label runs, splits, the labels CSV import and validation, and saving labels from the app."""

"""Foundation every layer may use: jobs (progress, cancel, errors), settings, typed configs, taxonomy, names, CSV."""

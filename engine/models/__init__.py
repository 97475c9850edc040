"""Models: the shipped baseline, zero-shot, SetFit-style fine-tuning, prediction.

This package is imported by the CLI and the app at start, so it stays light: the heavy
modules (torch, sentence-transformers, scikit-learn) are imported only inside the functions
of :mod:`engine.models.training`, :mod:`engine.models.prediction` and friends. Import those
submodules where a job runs, not here.

Modules: ``base`` (locating/loading bodies offline), ``inputs`` (the input recipe),
``embeddings`` (cached encoding), ``finetune`` (contrastive body training with hard
negatives), ``training`` / ``prediction`` / ``zeroshot`` (the jobs), ``modelio`` (safe,
atomic model folders), ``baseline`` (the shipped head), ``listing`` (records from a file
listing, for the baseline build and the quality protocol).
"""

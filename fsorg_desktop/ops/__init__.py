"""Background operations, grouped by domain (Anki's ``aqt/operations``).

Each op builds a worker body that calls one engine function with plain values captured
on the UI thread, and starts it through :func:`fsorg_desktop.jobs.run_job` with a title
(so it shows in the jobs panel). Ops never touch widgets: they return the job, and the
composer decides what a result or an error means for the window.
"""

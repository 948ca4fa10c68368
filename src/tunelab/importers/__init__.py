"""Bring runs recorded by other tools into Tunelab: ``tunelab import tensorboard|mlflow|clearml``.

Each importer turns the source's runs into tasks through the JSON API, the way a run's own
SDK would (``RunWriter``), and records the source's id on each task (``Ledger``), so
importing again adds only what is new and an interrupted import resumes where it stopped.

Example::

    from tunelab.importers.tensorboard import import_logdir
    from tunelab.sdk.transport import ApiClient

    summary = import_logdir(ApiClient("http://127.0.0.1:8080"), Path("runs"), project="vision")
    print(summary.imported, summary.skipped)
"""

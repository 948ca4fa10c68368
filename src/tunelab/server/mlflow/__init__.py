"""MLflow's tracking REST API, served under ``/mlflow``: the unchanged MLflow client
(``mlflow.set_tracking_uri("http://host:8080/mlflow")``, a Tunelab API key as
``MLFLOW_TRACKING_TOKEN``) logs into Tunelab.

Experiments are projects, runs are tasks, params are hyperparameters (section ``MLflow``),
metrics are scalars, tags are tags and user properties (``mapping``). The routes are in
``experiments``, ``runs`` and ``recording``; run search in ``search_filter`` (the filter
language) and ``run_search`` (its SQL); errors in MLflow's envelope (``envelope``).
"""

"""Step 2 of the pipeline example: pull the newest ``features`` artifact of the
``preprocess`` task by project and name (no file paths passed around), fit a linear model by
least squares, report its error, and save it with ``joblib.dump`` (captured as an output
model on its own).

    python examples/pipeline/train.py
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import joblib
import numpy as np

from tunelab import Task


def main() -> None:
    parser = argparse.ArgumentParser(description="Train on the newest features")
    parser.add_argument("--ridge", type=float, default=1e-3, help="L2 penalty")
    args = parser.parse_args()

    # output_uri=True: the saved model is uploaded to the server's file store.
    task = Task.init(project_name="examples/pipeline", task_name="train", output_uri=True)
    source = Task.get_task(project_name="examples/pipeline", task_name="preprocess")
    features = source.artifacts["features"].get()
    task.set_user_properties(features_task=source.id)

    x = features.drop(columns=["y"]).to_numpy()
    x = np.hstack([x, np.ones((len(x), 1))])
    y = features["y"].to_numpy()
    split = int(len(x) * 0.8)
    gram = x[:split].T @ x[:split] + args.ridge * np.eye(x.shape[1])
    weights = np.linalg.solve(gram, x[:split].T @ y[:split])
    logger = task.get_logger()
    for name, rows in (("train", slice(None, split)), ("validation", slice(split, None))):
        error = float(np.mean((x[rows] @ weights - y[rows]) ** 2))
        logger.report_scalar("mse", name, value=error, iteration=0)
        print(f"{name} mse: {error:.5f}")
    folder = Path(tempfile.gettempdir()) / "tunelab-pipeline"
    folder.mkdir(exist_ok=True)
    model = {"weights": weights, "columns": list(features.columns[:-1])}
    joblib.dump(model, folder / "linear.joblib")
    print(f"trained on {len(features)} rows from task {source.id}")


if __name__ == "__main__":
    main()

"""Step 1 of the pipeline example: turn raw measurements into a features table and store it
as the task's ``features`` artifact (a pandas DataFrame, kept as parquet).

    python examples/pipeline/preprocess.py --samples 500

Run it again with new data and ``train.py`` picks up the newest features on its next run.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from tunelab import Task


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the features table")
    parser.add_argument("--samples", type=int, default=500, help="rows to generate")
    parser.add_argument("--seed", type=int, default=3, help="random seed")
    args = parser.parse_args()

    task = Task.init(
        project_name="examples/pipeline", task_name="preprocess", task_type="data_processing"
    )
    rng = np.random.default_rng(args.seed)
    raw = rng.uniform(-1, 1, size=(args.samples, 3))
    target = raw @ np.array([2.0, -3.0, 0.5]) + 1.0 + rng.normal(0, 0.05, args.samples)
    features = pd.DataFrame(raw, columns=["x1", "x2", "x3"])
    features["x1_squared"] = features["x1"] ** 2  # a derived feature
    features["y"] = target
    task.upload_artifact("features", features, metadata={"source": "synthetic", "seed": args.seed})
    print(f"stored {len(features)} rows of features in task {task.id}")


if __name__ == "__main__":
    main()

"""A small, real training run: linear regression by mini-batch gradient descent.

Pure Python (no NumPy needed), so it runs anywhere Tunelab's SDK runs. It shows the
three ways hyperparameters reach Tunelab: argparse (captured on its own into ``Args``),
a connected dict (``General``), and a configuration object stored whole.

    python examples/train.py --lr 0.05 --epochs 20
"""

from __future__ import annotations

import argparse
import math
import random

from tunelab import Task


def make_data(n: int, noise: float, seed: int) -> list[tuple[list[float], float]]:
    rng = random.Random(seed)
    true_w, true_b = [2.0, -3.0, 0.5], 1.0
    data = []
    for _ in range(n):
        x = [rng.uniform(-1, 1) for _ in true_w]
        y = sum(w * xi for w, xi in zip(true_w, x, strict=True)) + true_b + rng.gauss(0, noise)
        data.append((x, y))
    return data


def mse(w: list[float], b: float, data: list[tuple[list[float], float]]) -> float:
    err = [(sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b - y) ** 2 for x, y in data]
    return sum(err) / len(err)


def main() -> None:
    parser = argparse.ArgumentParser(description="Linear regression with SGD")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate")
    parser.add_argument("--epochs", type=int, default=15, help="passes over the data")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per step")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    args = parser.parse_args()

    task = Task.init(project_name="examples", task_name="linear regression")
    params = task.connect({"samples": 2000, "noise": 0.1, "l2": 0.0, "schedule": {"decay": 0.9}})
    task.connect_configuration({"model": "linear", "features": 3}, name="model")
    logger = task.get_logger()

    data = make_data(params["samples"], params["noise"], args.seed)
    split = int(len(data) * 0.8)
    train, val = data[:split], data[split:]
    w, b = [0.0, 0.0, 0.0], 0.0
    lr, step = args.lr, 0
    rng = random.Random(args.seed)
    for epoch in range(args.epochs):
        rng.shuffle(train)
        for start in range(0, len(train), args.batch_size):
            batch = train[start : start + args.batch_size]
            grad_w, grad_b = [0.0] * len(w), 0.0
            for x, y in batch:
                err = sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b - y
                grad_w = [g + 2 * err * xi / len(batch) for g, xi in zip(grad_w, x, strict=True)]
                grad_b += 2 * err / len(batch)
            w = [wi - lr * (g + params["l2"] * wi) for wi, g in zip(w, grad_w, strict=True)]
            b -= lr * grad_b
            logger.report_scalar("loss", "train", mse(w, b, batch), iteration=step)
            step += 1
        val_loss = mse(w, b, val)
        logger.report_scalar("loss", "validation", val_loss, iteration=step)
        logger.report_scalar("learning rate", "lr", lr, iteration=step)
        print(f"epoch {epoch + 1}/{args.epochs}  val loss {val_loss:.5f}  lr {lr:.4f}")
        lr *= params["schedule"]["decay"]
    logger.report_single_value("final validation rmse", math.sqrt(mse(w, b, val)))
    print(f"learned w={[round(v, 3) for v in w]} b={b:.3f}")


if __name__ == "__main__":
    main()

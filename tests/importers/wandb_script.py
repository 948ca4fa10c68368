"""Real W&B runs in offline mode, for each (folder, project) pair of the arguments: one run
that finishes and one that exits with code 1."""

import sys
from pathlib import Path

import wandb

args = sys.argv[1:]
for folder, project in zip(args[::2], args[1::2], strict=True):
    run = wandb.init(
        dir=folder,
        project=project,
        name="baseline",
        config={"lr": 0.1, "layers": 3, "optimizer": {"name": "adam", "beta": 0.9}, "aug": True},
        tags=["resnet", "small"],
        notes="first try",
    )
    # A text of 100 kB in the first row: its record spans four blocks of the run file.
    wandb.log({"train/loss": 1.0, "val/top/acc": 0.0, "epoch": 0, "note": "x" * 100_000})
    for step in range(1, 20):
        wandb.log({"train/loss": 1.0 / (step + 1), "val/top/acc": step / 20, "epoch": step})
    weights = Path(folder) / "weights.txt"
    weights.write_text("w" * 100)
    wandb.save(str(weights), base_path=folder, policy="now")
    run.summary["best_acc"] = 0.95
    wandb.finish()

    run = wandb.init(dir=folder, project=project, name="broken", config={"lr": 0.5})
    for step in range(5):
        wandb.log({"loss": float(step)}, step=step * 10)
    wandb.finish(exit_code=1)

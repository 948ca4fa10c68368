"""Which way a metric improves: lower is better (a loss, an error rate) or higher (an accuracy).

A project may set a metric's direction (``tunelab.store.metric_directions``); where it has
not, ``default_direction`` reads one off the metric's title and series, the way people name
metrics:

>>> default_direction("rmse", "val")
<Direction.LOWER: 'lower'>
>>> default_direction("metrics", "top1_accuracy")
<Direction.HIGHER: 'higher'>

The series (the more specific name) is read first, then the title. Within one name a word
saying lower wins ("f1_loss" is a loss). A name saying neither counts as higher is better.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Direction(StrEnum):
    LOWER = "lower"
    HIGHER = "higher"

    @property
    def arrow(self) -> str:
        return "↓" if self is Direction.LOWER else "↑"

    @property
    def sentence(self) -> str:
        return f"{self.value.capitalize()} is better"


# Words (whole, any case) naming a metric where lower is better.
LOWER_WORDS = frozenset(
    {
        "loss", "losses", "error", "errors", "err", "rmse", "mse", "mae", "mape", "smape",
        "msle", "rmsle", "nmse", "medae", "nll", "logloss", "crossentropy", "xent", "kl",
        "divergence", "perplexity", "ppl", "wer", "cer", "ter", "bpc", "bpd", "fid", "kid",
        "lpips", "eer", "fpr", "fnr", "ece", "brier", "regret", "latency", "cost", "distance",
        "epe",
    }
)  # fmt: skip
# Parts of a word that say lower is better even inside a longer word ("valloss").
LOWER_PARTS = ("loss", "error")
# Words naming a metric where higher is better.
HIGHER_WORDS = frozenset(
    {
        "accuracy", "acc", "f1", "f2", "fbeta", "auc", "auroc", "auprc", "roc", "precision",
        "prec", "recall", "map", "ap", "ndcg", "mrr", "hits", "hitrate", "bleu", "rouge",
        "meteor", "chrf", "iou", "miou", "dice", "jaccard", "r2", "psnr", "ssim", "reward",
        "rewards", "return", "returns", "score", "top1", "top5", "kappa", "mcc",
        "specificity", "sensitivity", "tpr", "tnr", "throughput", "fps", "coverage",
        "spearman", "pearson", "correlation", "success", "winrate",
    }
)  # fmt: skip
# scikit-learn's scorers negate an error so that higher is better: "neg_mean_squared_error".
NEGATED = frozenset({"neg", "negative"})

_SEPARATORS = re.compile(r"[^0-9A-Za-z]+")
_CAMEL = re.compile(r"[A-Z]?[a-z]+[0-9]*|[A-Z]+[0-9]*(?![a-z])|[0-9]+")


def words(name: str) -> list[str]:
    """The words of a metric name, lowercase: ``"valLoss/top1_err"`` -> ``valloss, val,
    loss, top1, err`` (each part whole, and split where its case changes)."""
    found: list[str] = []
    for part in _SEPARATORS.split(name):
        if not part:
            continue
        found.append(part.lower())
        pieces = [p.lower() for p in _CAMEL.findall(part)]
        if len(pieces) > 1:
            found.extend(pieces)
    return found


def direction_by_name(name: str) -> Direction | None:
    """The direction one name says, or None when it says none."""
    said = words(name)
    lower = any(w in LOWER_WORDS or any(p in w for p in LOWER_PARTS) for w in said)
    higher = any(w in HIGHER_WORDS for w in said)
    if not lower and not higher:
        return None
    found = Direction.LOWER if lower else Direction.HIGHER
    if said and said[0] in NEGATED:
        return Direction.HIGHER if found is Direction.LOWER else Direction.LOWER
    return found


def default_direction(title: str, series: str) -> Direction:
    """The direction of a metric no project has set: its series' word, else its title's,
    else higher is better."""
    for name in (series, title):
        found = direction_by_name(name)
        if found is not None:
            return found
    return Direction.HIGHER

"""The experiment page's Debug Samples tab, and the compare page's samples side by side.

The tab shows a grid per title: each series at its newest iteration, with a slider over
the iterations it was reported at, and one slider for all series (each shows its newest
sample at or before the chosen iteration); ``static/js/debug_samples.js`` moves them and
opens an image full size with previous/next. Images, audio and video are served by
``/experiments/{id}/debug_samples/file`` (``debug_sample_files``); HTML pages show in an
iframe sandboxed without ``allow-same-origin``; other files download.

``/compare/debug_samples?ids=a,b&title=&series=&iteration=`` shows one title/series of the
compared experiments side by side at one iteration.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from tunelab.server.api.deps import Conn
from tunelab.server.web.compare import Ids, compare_url, load_experiments, parse_ids
from tunelab.server.web.experiment_page import experiment_context
from tunelab.server.web.templating import render
from tunelab.store.debug_samples import StoredSample, list_samples, sample_iterations

router = APIRouter(include_in_schema=False)


def file_url(task_id: str, title: str, series: str, iteration: int) -> str:
    query = urlencode({"title": title, "series": series, "iteration": iteration})
    return f"/experiments/{task_id}/debug_samples/file?{query}"


@dataclass(frozen=True)
class SampleCard:
    task_id: str
    sample: StoredSample
    # Every iteration the series was reported at, ascending, with each one's kind and URL.
    iterations: list[int]
    kinds: dict[int, str]
    externals: dict[int, str]

    @property
    def dom_id(self) -> str:
        key = f"{self.task_id}\0{self.sample.title}\0{self.sample.series}".encode()
        return "sample-" + hashlib.sha1(key, usedforsecurity=False).hexdigest()[:12]

    @property
    def url(self) -> str:
        if self.sample.external:
            return self.sample.uri
        s = self.sample
        return file_url(self.task_id, s.title, s.series, s.iteration)

    @property
    def position(self) -> int:
        return self.iterations.index(self.sample.iteration)

    @property
    def steps(self) -> str:
        """The slider's stops for the script: iteration, kind and URL of each."""
        s = self.sample
        return json.dumps(
            [
                {
                    "iteration": it,
                    "kind": self.kinds[it],
                    "url": self.externals.get(it) or file_url(self.task_id, s.title, s.series, it),
                    "external": it in self.externals,
                }
                for it in self.iterations
            ]
        )


def _cards(conn: sa.Connection, task_id: str) -> list[SampleCard]:
    everything = list_samples(conn, task_id)
    by_series: dict[tuple[str, str], list[StoredSample]] = {}
    for sample in everything:
        by_series.setdefault((sample.title, sample.series), []).append(sample)
    return [
        SampleCard(
            task_id,
            samples[-1],
            [s.iteration for s in samples],
            {s.iteration: s.kind for s in samples},
            {s.iteration: s.uri for s in samples if s.external},
        )
        for samples in by_series.values()
    ]


@router.get("/experiments/{task_id}/debug_samples", response_class=HTMLResponse)
def debug_samples_tab(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    context = experiment_context(conn, task_id, "debug_samples")
    cards = _cards(conn, task_id)
    groups: dict[str, list[SampleCard]] = {}
    for card in cards:
        groups.setdefault(card.sample.title, []).append(card)
    every = sorted({it for card in cards for it in card.iterations})
    context.update(groups=list(groups.items()), all_iterations=every)
    return render(request, "experiment/debug_samples.html", context)


Text = Annotated[str, Query(max_length=512)]


@router.get("/compare/debug_samples", response_class=HTMLResponse)
def compare_debug_samples(
    request: Request,
    conn: Conn,
    ids: Ids = [],  # noqa: B006 (FastAPI copies a default; it is never shared)
    title: Text = "",
    series: Text = "",
    iteration: Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1)] = None,
) -> HTMLResponse:
    """One title/series of every compared experiment at ``iteration`` (default: the newest
    any of them reported); each shows its newest sample at or before it."""
    chosen = parse_ids(ids)
    experiments = load_experiments(conn, chosen, request)
    per_task = {e["id"]: sample_iterations(conn, e["id"]) for e in experiments}
    keys = sorted({key for found in per_task.values() for key in found})
    if (title, series) not in keys and keys:
        title, series = keys[0]
    every = sorted({it for found in per_task.values() for it in found.get((title, series), [])})
    if iteration is None and every:
        iteration = every[-1]
    columns = [
        (experiment, _at(conn, experiment["id"], title, series, iteration, per_task))
        for experiment in experiments
    ]
    context = {
        "experiments": experiments,
        "titles": sorted({t for t, _ in keys}),
        "series_names": sorted({s for t, s in keys if t == title}),
        "ids": chosen,
        "keys": keys,
        "title": title,
        "series": series,
        "iteration": iteration,
        "iterations": every,
        "columns": columns,
        "back_url": compare_url(chosen),
    }
    return render(request, "compare/debug_samples.html", context)


def _at(
    conn: sa.Connection,
    task_id: str,
    title: str,
    series: str,
    iteration: int | None,
    per_task: dict[str, dict[tuple[str, str], list[int]]],
) -> SampleCard | None:
    """The task's sample of ``title``/``series`` at ``iteration`` or the newest before it."""
    its = per_task[task_id].get((title, series), [])
    before = [it for it in its if iteration is None or it <= iteration]
    if not before:
        return None
    found = list_samples(conn, task_id, title=title, series=series, iteration=before[-1])
    sample = found[0]
    externals = {sample.iteration: sample.uri} if sample.external else {}
    return SampleCard(
        task_id, sample, [sample.iteration], {sample.iteration: sample.kind}, externals
    )

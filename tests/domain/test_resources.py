"""Resources and their written forms: sizes like 16G, times like 2:00:00 or 90m."""

from __future__ import annotations

import pytest

from tunelab.domain.launch import Launch
from tunelab.domain.resources import (
    Resources,
    from_form,
    parse_size,
    parse_time_limit,
    with_accelerators,
)
from tunelab.errors import InvalidInput


@pytest.mark.parametrize(
    ("given", "kept"),
    [("16G", "16G"), ("16g", "16G"), ("512M", "512M"), ("512", "512M"), (2048, "2048M"),
     ("1.5T", "1.5T"), ("64GB", "64G")],
)  # fmt: skip
def test_sizes(given: object, kept: str) -> None:
    assert parse_size(given) == kept


@pytest.mark.parametrize("bad", ["", "lots", "16X", "-1G", "0G", True, None, 1.5])
def test_bad_sizes(bad: object) -> None:
    with pytest.raises(InvalidInput):
        parse_size(bad)


@pytest.mark.parametrize(
    ("given", "kept"),
    [("2:00:00", "2:00:00"), ("90m", "1:30:00"), ("2h", "2:00:00"), ("45s", "0:00:45"),
     ("1d", "24:00:00"), ("90", "1:30:00"), (30, "0:30:00"), ("10:30", "0:10:30"),
     ("1-12:00:00", "36:00:00"), ("1-2", "26:00:00")],
)  # fmt: skip
def test_time_limits(given: object, kept: str) -> None:
    assert parse_time_limit(given) == kept


@pytest.mark.parametrize("bad", ["", "soon", "2:60:00", "1:61", "0m", "400d", True, -5])
def test_bad_time_limits(bad: object) -> None:
    with pytest.raises(InvalidInput):
        parse_time_limit(bad)


def test_a_record_checks_its_fields_and_says_what_it_asks() -> None:
    wanted = Resources.from_dict({"gpus": 1, "cpus": 4, "memory": "16g", "time_limit": "2h"})
    assert (wanted.memory, wanted.time_limit, wanted.memory_megabytes) == ("16G", "2:00:00", 16384)
    assert wanted.requested() == ["gpus", "cpus", "memory", "time_limit"]
    assert wanted.describe() == "1 GPU, 4 CPUs, 16G memory, time limit 2:00:00"
    assert Resources.from_dict(wanted.to_dict()) == wanted
    for bad in ({"gpus": -1}, {"cpus": 1.5}, {"spot": "yes"}, {"ram": "1G"}, {"cloud": "a b"}):
        with pytest.raises(InvalidInput):
            Resources.from_dict(bad)


def test_zero_gpus_is_asked_and_kept_apart_from_nothing() -> None:
    none = Resources.from_dict({"gpus": 0})
    assert none.requested() == ["gpus"] and none.describe() == "0 GPUs"
    assert Resources.from_dict({"gpus": None, "spot": False}).requested() == []


def test_a_launch_says_where_its_job_is() -> None:
    pending = Launch(backend="slurm", job_id="7", state="PENDING", reason="Resources")
    assert pending.describe() == "pending in Slurm: Resources"
    assert Launch(backend="slurm", job_id="7", state="RUNNING", reason="None").describe() == (
        "running in Slurm"
    )
    assert Launch().describe() == ""


def test_a_launched_job_waits_until_its_scheduler_runs_it() -> None:
    assert Launch(backend="slurm", job_id="7", state="PENDING").waiting() == "pending in Slurm"
    assert Launch(backend="cloud", job_id="c", state="INIT").waiting() == "starting in Cloud"
    assert Launch(backend="kubernetes", job_id="k").waiting() == "submitted in Kubernetes"
    assert Launch(backend="slurm", job_id="7", state="RUNNING").waiting() == ""
    assert Launch(backend="slurm", state="PENDING").waiting() == ""  # no job yet


def test_form_text_and_accelerators_become_one_record() -> None:
    texts = {"gpus": " 2 ", "gpu_type": "", "cpus": "", "memory": "32g", "spot": "true"}
    given = from_form(texts)
    assert given == {"gpus": 2, "gpu_type": "", "cpus": None, "memory": "32g", "spot": True}
    with pytest.raises(InvalidInput, match="cpus must be a whole number"):
        from_form({"cpus": "eight"})
    # Accelerators fill what the GPU fields leave empty, and must agree with what they say.
    assert with_accelerators(given, "a100:2") | {"memory": ""} == {
        "gpus": 2, "gpu_type": "a100", "cpus": None, "memory": "", "spot": True
    }  # fmt: skip
    assert with_accelerators({"gpu_type": "A100"}, "a100") == {"gpus": 1, "gpu_type": "A100"}
    assert with_accelerators({"gpus": 0}, "") == {"gpus": 0}
    for said, accelerators in (({"gpus": 0}, "A100:2"), ({"gpu_type": "H100"}, "A100")):
        with pytest.raises(InvalidInput, match="disagree"):
            with_accelerators(said, accelerators)
    with pytest.raises(InvalidInput, match="like 'A100' or 'A100:2'"):
        with_accelerators({}, "A100:two")

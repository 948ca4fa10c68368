"""Which files a repository's parameters come from, checked against DVC's own reading of the
same dvc.yaml (the layouts of DVC's documentation)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tunelab.errors import InvalidInput
from tunelab.params_files import params_sources

# DVC's documentation (`dvc params`, dvc.yaml reference): keys of params.yaml, a custom file
# with some keys, a whole file, a stage in another wdir, a foreach stage, top-level files.
DVC_YAML = """\
params:
  - hp.json
stages:
  learn:
    cmd: python deep.py # reads params.yaml internally
    params:
      - epochs # specific param from params.yaml
      - tuning.learning-rate # nested param from params.yaml
      - paths # entire group from params.yaml
      - myparams.toml:
          - batch_size # param from custom file
      - config.json: # all params in this file
  evaluate:
    wdir: eval
    cmd: python evaluate.py
    params:
      - threshold
      - ../train/settings.py:
          - LR
  build:
    foreach:
      uk: {epochs: 3}
      us: {epochs: 10}
    do:
      cmd: python train.py '${key}' ${item.epochs}
      params:
        - build.yaml:
"""


def _dvc_reads(root: Path) -> set[str]:
    """The parameter files DVC itself finds in ``root``'s dvc.yaml."""
    from dvc.repo import Repo

    repo = Repo.init(str(root), no_scm=True)
    try:
        found = {"params.yaml"}
        for stage in repo.index.stages:
            for dep in stage.deps:
                if type(dep).__name__ == "ParamsDependency":
                    found.add(os.path.relpath(dep.fs_path, root))
        for paths in repo.index.param_keys.values():
            found.update(os.path.relpath(os.path.join(root, *p), root) for p in paths)
        return found
    finally:
        repo.close()


def test_the_files_are_the_ones_dvc_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # DVC resolves top-level params files from the working dir
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    ours = params_sources(DVC_YAML, ["conf/extra.toml"])
    assert ours[0] == "params.yaml"
    assert set(ours) == _dvc_reads(tmp_path) | {"conf/extra.toml"}
    assert ours == [
        "params.yaml",
        "hp.json",
        "myparams.toml",
        "config.json",
        "eval/params.yaml",
        "train/settings.py",
        "build.yaml",
        "conf/extra.toml",
    ]


def test_without_dvc_yaml_params_yaml_and_the_settings() -> None:
    assert params_sources(None) == ["params.yaml"]
    assert params_sources(None, ["a.json", "params.yaml", "./a.json"]) == ["params.yaml", "a.json"]
    assert params_sources("stages:\n  s:\n    cmd: x\n", dvc_dir="sub") == ["params.yaml"]
    nested = "stages:\n  s:\n    cmd: x\n    params: [{p.toml: [a]}, lr]\n"
    assert params_sources(nested, dvc_dir="sub") == ["params.yaml", "sub/p.toml", "sub/params.yaml"]


@pytest.mark.parametrize("text", ["stages: [", "- a\n- b\n", "stages: [1, 2]\n"])
def test_a_broken_dvc_yaml_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"dvc\.yaml"):
        params_sources(text)

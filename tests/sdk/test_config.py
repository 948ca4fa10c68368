"""SDK settings: environment over config file over defaults; bad input fails loudly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tunelab.errors import ConfigError
from tunelab.sdk.config import SdkConfig, load_config


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_file_or_variables(tmp_path: Path) -> None:
    config = load_config({"HOME": str(tmp_path)})
    assert config.api_url == "http://127.0.0.1:8080"
    assert config.api_token is None
    assert config.offline is False
    assert config.offline_dir == tmp_path / ".tunelab" / "offline"
    assert config.spool_dir == tmp_path / ".tunelab" / "spool"
    assert config.log_os_environments == ()
    assert config.full_pip_freeze is False
    assert config.flush_interval == 0.5
    assert config.max_batch_points == 200_000
    assert config.exit_timeout == 10
    assert config.config_file is None


def test_the_usual_config_file_is_read(tmp_path: Path) -> None:
    _write(
        tmp_path / ".config" / "tunelab" / "config.toml",
        """
        api_url = "https://tunelab.example.org/"
        api_token = "s3cret"
        offline_dir = "~/runs/offline"
        spool_dir = "/var/spool/tunelab"
        log_os_environments = ["CUDA_*", "SLURM_JOB_ID"]
        full_pip_freeze = true
        default_output_uri = "s3://bucket/models"
        flush_interval = 2
        max_batch_points = 1000
        exit_timeout = 30.5

        [agent]
        anything = "belongs to another part"
        """.replace("        ", ""),
    )
    config = load_config({"HOME": str(tmp_path)})
    assert config.api_url == "https://tunelab.example.org"
    assert config.api_token == "s3cret"
    assert config.offline_dir == tmp_path / "runs" / "offline"
    assert config.spool_dir == Path("/var/spool/tunelab")
    assert config.log_os_environments == ("CUDA_*", "SLURM_JOB_ID")
    assert config.full_pip_freeze is True
    assert config.default_output_uri == "s3://bucket/models"
    assert (config.flush_interval, config.max_batch_points, config.exit_timeout) == (2, 1000, 30.5)
    assert config.config_file == tmp_path / ".config" / "tunelab" / "config.toml"


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", 'api_url = "http://file:1"\noffline = false\n')
    env = {
        "HOME": str(tmp_path),
        "TUNELAB_CONFIG_FILE": str(path),
        "TUNELAB_API_URL": "http://env:2",
        "TUNELAB_OFFLINE": "1",
        "TUNELAB_API_TOKEN": "tok",
        "TUNELAB_LOG_OS_ENVIRONMENTS": "A_*, B",
    }
    config = load_config(env)
    assert config.api_url == "http://env:2"
    assert config.offline is True
    assert config.api_token == "tok"
    assert config.log_os_environments == ("A_*", "B")
    assert config.config_file == path


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("0", False)])
def test_offline_switch(tmp_path: Path, raw: str, expected: bool) -> None:
    assert load_config({"HOME": str(tmp_path), "TUNELAB_OFFLINE": raw}).offline is expected


def test_explicit_path_replaces_the_usual_file(tmp_path: Path) -> None:
    _write(tmp_path / ".config" / "tunelab" / "config.toml", 'api_url = "http://usual:1"\n')
    other = _write(tmp_path / "other.toml", 'api_url = "http://other:1"\n')
    assert load_config({"HOME": str(tmp_path)}, path=other).api_url == "http://other:1"


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "api_url = \n")
    with pytest.raises(ConfigError) as caught:
        load_config({"HOME": str(tmp_path)}, path=path)
    assert str(path) in caught.value.message


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("flush_interval = -1", "flush_interval"),
        ('max_batch_points = "many"', "max_batch_points"),
        ('offline = "perhaps"', "offline"),
        ('api_url = "localhost:8080"', "api_url"),
        ("log_os_environments = [1, 2]", "log_os_environments"),
        ('api_urll = "http://typo:1"', "api_urll"),
    ],
)
def test_bad_value_in_file_names_file_and_key(tmp_path: Path, line: str, key: str) -> None:
    path = _write(tmp_path / "c.toml", line + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config({"HOME": str(tmp_path)}, path=path)
    assert str(path) in caught.value.message
    assert key in caught.value.message
    assert caught.value.detail["key"] == key


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TUNELAB_EXIT_TIMEOUT"):
        load_config({"HOME": str(tmp_path), "TUNELAB_EXIT_TIMEOUT": "soon"})


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_config({"HOME": str(tmp_path)})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.api_url = "http://elsewhere"  # type: ignore[misc]
    assert config == SdkConfig(
        offline_dir=tmp_path / ".tunelab" / "offline", spool_dir=tmp_path / ".tunelab" / "spool"
    )

"""No secret leaves a run: real scripts with secret-looking variables and a Tunelab token
record them masked (environment, console, exported task, offline folder) while the script
itself still sees the real values."""

from __future__ import annotations

import json
import os
import secrets as random_secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tunelab.sdk import remote
from tunelab.sdk.secrets import (
    MASK,
    Masker,
    environment_masker,
    is_secret_name,
    mask_value,
    secret_values,
)
from tunelab.sdk.task import Task
from tunelab.sdk.transport import ApiClient

SCRIPT = """
import json, os, sys
from pathlib import Path
from tunelab import Task

task = Task.init(project_name=os.environ["PROJECT"], task_name="secrets")
token = os.environ["TUNELAB_API_TOKEN"]
print("token:", token)
print(f"aws={os.environ['AWS_SECRET_ACCESS_KEY']}; api={os.environ['MY_API_KEY']}")
print("url " + os.environ["DATABASE_URL"], file=sys.stderr)
print("short", os.environ["SHORT_PASSWORD"])
task.get_logger().report_text("reported " + token)
seen = {name: os.environ[name] for name in os.environ["SECRET_NAMES"].split(",")}
Path(os.environ["SEEN_FILE"]).write_text(json.dumps(seen))
if os.environ.get("EXPORT_FILE"):
    task.flush()
    Path(os.environ["EXPORT_FILE"]).write_text(json.dumps(task.export_task()))
sys.stdout.write("last line, unterminated: " + token)
"""


def _secret() -> str:
    return random_secrets.token_urlsafe(24)


@pytest.fixture
def secret_env(tmp_path: Path) -> dict[str, str]:
    """Variables of a user's shell: a token, secret-named ones, others that hold a secret."""
    token, db_password = "tl_" + _secret(), _secret()
    return {
        "TUNELAB_API_TOKEN": token,
        "AWS_SECRET_ACCESS_KEY": _secret(),
        "MY_API_KEY": _secret(),
        "DB_PASSWORD": db_password,
        "SHORT_PASSWORD": "pw42",  # too short to hunt for inside text; masked by name still
        "DATABASE_URL": f"postgresql://me:{db_password}@db.example.org/runs",
        "CALLBACK_URL": f"https://hooks.example.org/done?auth={token}",
        "PLAIN_SETTING": "visible-value-123",
        "TUNELAB_LOG_ENVIRONMENT": (
            "AWS_SECRET_*,MY_*,DB_*,SHORT_*,DATABASE_URL,CALLBACK_URL,PLAIN_SETTING,TUNELAB_API_TOKEN"
        ),
        "SECRET_NAMES": "TUNELAB_API_TOKEN,AWS_SECRET_ACCESS_KEY,MY_API_KEY,DATABASE_URL",
        "SEEN_FILE": str(tmp_path / "seen.json"),
        "PROJECT": unique("sdk-secrets"),
    }


def _hidden(env: dict[str, str]) -> list[str]:
    """The values no record may hold."""
    names = ("TUNELAB_API_TOKEN", "AWS_SECRET_ACCESS_KEY", "MY_API_KEY", "DB_PASSWORD")
    return [env[name] for name in names]


def _assert_no_secret(text: str, env: dict[str, str]) -> None:
    for value in _hidden(env):
        assert value not in text


def _assert_script_saw_real_values(env: dict[str, str]) -> None:
    seen = json.loads(Path(env["SEEN_FILE"]).read_text())
    assert seen == {name: env[name] for name in env["SECRET_NAMES"].split(",")}


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def test_a_run_records_no_secret(
    api_url: str, client: ApiClient, tmp_path: Path, secret_env: dict[str, str]
) -> None:
    env = script_env(api_url, tmp_path, **secret_env, EXPORT_FILE=str(tmp_path / "export.json"))
    done = run_script(write_script(tmp_path / "run", SCRIPT), env)
    assert done.returncode == 0, done.stderr
    _assert_script_saw_real_values(secret_env)
    # The local terminal shows what was printed: masking is for what is recorded.
    assert secret_env["TUNELAB_API_TOKEN"] in done.stdout

    task = client.list_tasks(project=secret_env["PROJECT"])["items"][0]
    record = client.get_task(task["id"])
    environment = {k: v["value"] for k, v in record["hyperparameters"]["Environment"].items()}
    db_password = secret_env["DB_PASSWORD"]
    assert environment == {
        "AWS_SECRET_ACCESS_KEY": MASK,
        "CALLBACK_URL": f"https://hooks.example.org/done?auth={MASK}",
        "DATABASE_URL": secret_env["DATABASE_URL"].replace(db_password, MASK),
        "DB_PASSWORD": MASK,
        "MY_API_KEY": MASK,
        "PLAIN_SETTING": "visible-value-123",
        "SHORT_PASSWORD": MASK,
        "TUNELAB_API_TOKEN": MASK,
    }
    _assert_no_secret(json.dumps(record), secret_env)

    lines = client.get_console(task["id"], limit=1000)["lines"]
    texts = [line["text"] for line in lines]
    _assert_no_secret(json.dumps(lines), secret_env)
    assert f"token: {MASK}" in texts
    assert f"aws={MASK}; api={MASK}" in texts
    assert f"url postgresql://me:{MASK}@db.example.org/runs" in texts
    assert "short pw42" in texts  # below the length that is hunted for inside text
    assert f"reported {MASK}" in texts
    assert f"last line, unterminated: {MASK}" in texts

    exported = (tmp_path / "export.json").read_text()
    _assert_no_secret(exported, secret_env)
    assert json.loads(exported)["hyperparameters"]["Environment"]["MY_API_KEY"]["value"] == MASK


def test_an_offline_session_folder_holds_no_secret(
    tmp_path: Path, secret_env: dict[str, str]
) -> None:
    offline_dir = tmp_path / "offline"
    env = script_env(
        "http://127.0.0.1:9", tmp_path, **secret_env,
        TUNELAB_OFFLINE="1", TUNELAB_OFFLINE_DIR=str(offline_dir),
        EXPORT_FILE=str(tmp_path / "export.json"),
    )  # fmt: skip
    done = run_script(write_script(tmp_path / "run", SCRIPT), env)
    assert done.returncode == 0, done.stderr
    _assert_script_saw_real_values(secret_env)

    files = [path for path in offline_dir.rglob("*") if path.is_file()]
    assert files
    recorded = "\n".join(path.read_text(errors="replace") for path in files)
    _assert_no_secret(recorded, secret_env)
    assert f"token: {MASK}" in recorded and '"AWS_SECRET_ACCESS_KEY"' in recorded
    _assert_no_secret((tmp_path / "export.json").read_text(), secret_env)


def test_export_task_masks_a_record_written_unmasked(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record written through the API (or by an older SDK) may hold secrets: the export
    masks secret-named Environment values and the token wherever it shows."""
    token, key = "tl_" + _secret(), _secret()
    monkeypatch.setenv("TUNELAB_API_TOKEN", token)
    body = {"type": "str", "description": ""}
    created = client.create_task(
        {
            "name": "written by hand",
            "project": unique("sdk-secrets"),
            "hyperparameters": {
                "Environment": {"HF_TOKEN": {"value": key, **body}},
                "Args": {"endpoint": {"value": f"https://x.example.org/?t={token}", **body}},
            },
            "comment": f"uses {token}",
        }
    )
    exported = Task.get_task(task_id=created["id"]).export_task()
    assert exported["hyperparameters"]["Environment"]["HF_TOKEN"]["value"] == MASK
    assert exported["hyperparameters"]["Args"]["endpoint"]["value"].endswith(f"?t={MASK}")
    assert exported["comment"] == f"uses {MASK}"
    assert token not in json.dumps(exported) and key not in json.dumps(exported)


# ----- the rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("AWS_SECRET_ACCESS_KEY", True),
        ("api_key", True),
        ("HF_TOKEN", True),
        ("DB_Password", True),
        ("TUNELAB_API_TOKEN", True),
        ("AWS_REGION", False),
        ("HOME", False),
        ("PASSWD_FILE", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_masker_replaces_the_longest_secret_whole() -> None:
    masker = Masker(["abcdefgh", "abcdefgh-and-more", ""])
    assert masker.mask_text("x abcdefgh-and-more y abcdefgh") == f"x {MASK} y {MASK}"
    assert masker.mask_data({"k": ["abcdefgh", 3, None]}) == {"k": [MASK, 3, None]}
    assert not Masker([]) and Masker([]).mask_text("as is") == "as is"


def test_secret_values_come_from_names_and_the_token(tmp_path: Path) -> None:
    environ = {
        "HOME": str(tmp_path),  # no config file there
        "TUNELAB_API_TOKEN": "tok1",
        "MY_API_KEY": "long-enough-value",
        "GH_TOKEN": "short",
        "PLAIN": "not-a-secret-at-all",
    }
    assert secret_values(environ) == ["long-enough-value", "tok1"]
    masker = environment_masker(environ)
    assert mask_value("GH_TOKEN", "short", masker) == MASK
    assert mask_value("NOTE", "see tok1 and long-enough-value", masker) == f"see {MASK} and {MASK}"


def test_a_token_from_the_config_file_is_masked(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('api_token = "tl_from_the_config_file"\n')
    environ = {"HOME": str(tmp_path), "TUNELAB_CONFIG_FILE": str(config)}
    assert secret_values(environ) == ["tl_from_the_config_file"]


def test_a_masked_environment_value_is_not_exported_under_an_agent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rerun takes the recorded Environment: a masked value must not replace the real one
    the agent's machine has."""
    monkeypatch.setenv("TL_TEST_API_KEY", "the-real-key-here")
    monkeypatch.setenv("TL_TEST_REGION", "us-east-1")
    body = {"type": "str", "description": ""}
    remote.export_environment(
        {
            "hyperparameters": {
                "Environment": {
                    "TL_TEST_API_KEY": {"value": MASK, **body},
                    "TL_TEST_REGION": {"value": "eu-west-1", **body},
                }
            }
        }
    )
    assert os.environ["TL_TEST_API_KEY"] == "the-real-key-here"
    assert os.environ["TL_TEST_REGION"] == "eu-west-1"

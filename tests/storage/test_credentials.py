"""Storage credentials from the config file: the most specific entry wins; a bad file fails
loudly naming the key; secrets never show in a repr or a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunelab.errors import ConfigError
from tunelab.storage import StorageContext, load_storage_credentials

CONFIG = """
api_url = "http://127.0.0.1:8080"

[[storage.s3]]
key = "default-key"
secret = "default-secret"

[[storage.s3]]
bucket = "models"
key = "bucket-key"
secret = "bucket-secret"

[[storage.s3]]
host = "127.0.0.1:8333"
key = "host-key"
secret = "host-secret"
secure = true

[[storage.s3]]
host = "127.0.0.1:8333"
bucket = "models"
key = "both-key"
secret = "both-secret"
region = "eu-west-1"

[[storage.gs]]
project = "default-project"

[[storage.gs]]
bucket = "gs-bucket"
project = "bucket-project"
credentials_json = "/keys/sa.json"

[[storage.azure]]
account_name = "myaccount"
account_key = "azure-default-key"

[[storage.azure]]
account_name = "myaccount"
account_key = "azure-container-key"
container = "models"
"""


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_most_specific_s3_entry_wins(tmp_path: Path) -> None:
    creds = load_storage_credentials({}, path=_config(tmp_path, CONFIG))
    assert creds.source == tmp_path / "config.toml"
    found = creds.for_s3("127.0.0.1:8333", "models")
    assert found is not None and (found.key, found.region) == ("both-key", "eu-west-1")
    found = creds.for_s3("127.0.0.1:8333", "other")
    assert found is not None and (found.key, found.secure) == ("host-key", True)
    found = creds.for_s3(None, "models")
    assert found is not None and found.key == "bucket-key"
    found = creds.for_s3(None, "other")
    assert found is not None and found.key == "default-key"
    # An entry for another host never applies, whatever its bucket.
    found = creds.for_s3("10.0.0.1:9000", "models")
    assert found is not None and found.key == "bucket-key"


def test_gs_and_azure_entries(tmp_path: Path) -> None:
    creds = load_storage_credentials({}, path=_config(tmp_path, CONFIG))
    gs = creds.for_gs("gs-bucket")
    assert gs is not None and (gs.project, gs.credentials_json) == (
        "bucket-project",
        "/keys/sa.json",
    )
    gs = creds.for_gs("elsewhere")
    assert gs is not None and gs.project == "default-project"
    azure = creds.for_azure("myaccount", "models")
    assert azure is not None and azure.account_key == "azure-container-key"
    azure = creds.for_azure("myaccount", "other")
    assert azure is not None and azure.account_key == "azure-default-key"
    assert creds.for_azure("otheraccount", "models") is None


def test_no_entry_means_none(tmp_path: Path) -> None:
    creds = load_storage_credentials({}, path=_config(tmp_path, 'api_url = "http://x:1"\n'))
    assert creds.for_s3(None, "b") is None and creds.for_gs("b") is None
    assert load_storage_credentials({"HOME": str(tmp_path)}).source is None


def test_the_file_is_found_like_the_sdk_finds_it(tmp_path: Path) -> None:
    path = _config(tmp_path, CONFIG)
    creds = load_storage_credentials({"TUNELAB_CONFIG_FILE": str(path)})
    assert len(creds.s3) == 4
    home = tmp_path / "home"
    (home / ".config" / "tunelab").mkdir(parents=True)
    (home / ".config" / "tunelab" / "config.toml").write_text(CONFIG)
    assert len(load_storage_credentials({"HOME": str(home)}).azure) == 2


def test_secrets_never_show_in_reprs(tmp_path: Path) -> None:
    creds = load_storage_credentials({}, path=_config(tmp_path, CONFIG))
    ctx = StorageContext(credentials=creds, server_token="server-token-value")
    shown = repr(ctx) + repr(creds) + str(creds.s3) + str(creds.azure)
    for secret in creds.secrets():
        assert secret not in shown
    assert "server-token-value" not in shown
    assert "default-key" in shown  # key ids are not secrets


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[[storage.s3]]\nsecert = 'x'\n", "storage.s3[0].secert"),
        ("[[storage.s3]]\nkey = 'only-the-key'\n", "storage.s3[0].secret"),
        ("[[storage.s3]]\nsecure = 'yes'\n", "storage.s3[0].secure"),
        ("[[storage.s3]]\nhost = 'http://127.0.0.1:8333'\n", "storage.s3[0].host"),
        ("[[storage.s3]]\nhost = '127.0.0.1'\n", "storage.s3[0].host"),
        ("[[storage.s3]]\n[[storage.s3]]\nsecret = 42\n", "storage.s3[1].secret"),
        ("[[storage.azure]]\naccount_key = 'TopSecret'\n", "storage.azure[0].account_name"),
        ("[[storage.gcs]]\nproject = 'p'\n", "storage.gcs"),
        ("storage = 3\n", "storage"),
        ("[storage]\ns3 = 5\n", "storage.s3"),
    ],
)
def test_bad_entries_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = _config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_storage_credentials({}, path=path)
    assert caught.value.detail["key"] == key
    assert key in caught.value.message and str(path) in caught.value.message
    assert "TopSecret" not in caught.value.message


def test_a_bad_value_is_named_but_never_shown(tmp_path: Path) -> None:
    path = _config(tmp_path, "[[storage.s3]]\nkey = 'k'\nsecret = ''\n")
    with pytest.raises(ConfigError) as caught:
        load_storage_credentials({}, path=path)
    assert "storage.s3[0].secret" in caught.value.message
    path = _config(tmp_path, "[[storage.azure]]\naccount_name = 'a'\naccount_key = 987654321\n")
    with pytest.raises(ConfigError) as caught:
        load_storage_credentials({}, path=path)
    assert "987654321" not in caught.value.message


def test_unreadable_toml_names_the_file(tmp_path: Path) -> None:
    path = _config(tmp_path, "[[storage.s3]\n")
    with pytest.raises(ConfigError, match=r"config\.toml"):
        load_storage_credentials({}, path=path)


def test_the_sdk_context_comes_from_its_config(tmp_path: Path) -> None:
    from tunelab.sdk.config import load_config

    path = _config(tmp_path, 'api_token = "tok"\n' + CONFIG)
    ctx = StorageContext.from_config(load_config({"TUNELAB_CONFIG_FILE": str(path)}))
    assert (ctx.server_url, ctx.server_token) == ("http://127.0.0.1:8080", "tok")
    assert ctx.credentials.source == path and len(ctx.credentials.s3) == 4
    assert ctx.files_root is None
    bare = StorageContext.from_config(load_config({"HOME": str(tmp_path / "nohome")}))
    assert bare.credentials == StorageContext().credentials

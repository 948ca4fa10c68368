"""The [[forge]] tables of the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunelab.errors import ConfigError
from tunelab.forge import load_forges


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_entries_with_default_api_urls(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[forge]]\nurl = "https://github.com/"\nkind = "github"\ntoken = "ghp-secret-1"\n'
        '[[forge]]\nurl = "https://git.example.com/gitlab"\nkind = "GitLab"\n'
        'token = "glpat-secret-2"\n',
    )
    forges = load_forges({}, path)
    assert [(e.kind, e.api_url) for e in forges.entries] == [
        ("github", "https://api.github.com"),
        ("gitlab", "https://git.example.com/gitlab/api/v4"),
    ]
    gitlab = forges.for_repository("https://git.example.com/gitlab/group/model.git")
    assert (
        gitlab is not None and gitlab.repository_path(gitlab.url + "/group/model") == "group/model"
    )
    assert forges.for_repository("https://git.example.com/other/model.git") is None
    assert "secret" not in repr(forges)


def test_missing_file_means_no_forges(tmp_path: Path) -> None:
    assert load_forges({}, tmp_path / "absent.toml").entries == ()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[[forge]]\nurl = "https://github.com"\nkind = "github"\n', "forge[0].token"),
        ('[[forge]]\nurl = "github.com"\nkind = "github"\ntoken = "t"\n', "forge[0].url"),
        ('[[forge]]\nurl = "https://a.b"\nkind = "gitea"\ntoken = "t"\n', "forge[0].kind"),
        (
            '[[forge]]\nurl = "https://a.b"\nkind = "github"\ntoken = "t"\nuser = "x"\n',
            "forge[0].user",
        ),
    ],
)
def test_bad_entries_name_the_key_never_the_token(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as bad:
        load_forges({}, write(tmp_path, text))
    assert bad.value.detail["key"] == key
    assert '"t"' not in bad.value.message

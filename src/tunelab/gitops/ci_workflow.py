"""The CI files that run Tunelab tasks: GitHub Actions and GitLab CI, from the wizard's fields.

Pure functions of ``CiSettings``: the page, the API and the CLI show the same text. The
files are built as data and written by a YAML library, so any label or script text is
quoted as YAML needs; text the user typed never lands inside a ``${{ }}`` expression (the
task id reaches the shell as ``$TUNELAB_TASK_ID``, never pasted into a script), and a
literal ``${{`` in the job script is written so GitHub reads it as text.

The job, on both forges:

1. runs when the server starts it with a task id (GitHub ``workflow_dispatch`` input
   ``task_id``; GitLab a pipeline with the variable ``task_id``), or on a push to a
   ``tunelab/`` branch whose head commit carries a ``Tunelab-Task: <id>`` trailer;
2. checks the repository out, sets up Python, installs Tunelab (the ``package`` field);
3. lets the agent fetch the repository with the job's own token (an ``http.extraheader``
   set through ``GIT_CONFIG_*`` variables for the job alone, as ``actions/checkout`` does);
4. runs the job script (``tunelab agent execute --id "$TUNELAB_TASK_ID"`` by default) with
   ``TUNELAB_API_URL`` and ``TUNELAB_API_KEY`` (given to the agent as ``TUNELAB_API_TOKEN``)
   from the repository's secrets (GitLab: its CI/CD variables).

A cloud runner is launched by a ``deploy-runner`` job with CML (``cml runner launch``), the
launcher whose flags the wizard's fields are; it registers the runner with the labels, and
the task's job asks for ``[self-hosted, <labels>]`` (GitLab: those tags). CML needs the
``PERSONAL_ACCESS_TOKEN`` secret (GitLab: ``REPO_TOKEN``) and the cloud's credentials.
"""

from __future__ import annotations

from typing import Any

import yaml  # type: ignore[import-untyped]

from tunelab.gitops.ci_settings import CiSettings

TRAILER = "Tunelab-Task"
BRANCHES = "tunelab/**"
CML_IMAGE = "iterativeai/cml:0-dvc3-base1"

# The secrets `cml runner launch` reads for each cloud (https://cml.dev/doc/self-hosted-runners).
CLOUD_SECRETS: dict[str, tuple[str, ...]] = {
    "aws": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    "gcp": ("GOOGLE_APPLICATION_CREDENTIALS_DATA",),
    "azure": ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID", "AZURE_TENANT_ID"),
    "kubernetes": ("KUBERNETES_CONFIGURATION",),
}

_FIND_TASK = f"""\
if [ -z "${{TUNELAB_TASK_ID:-}}" ]; then
  # A push: the task named by the head commit's trailer.
  TUNELAB_TASK_ID="$(git log -1 --format='%(trailers:key={TRAILER},valueonly)' \\
    | head -n 1 | tr -d '[:space:]')"
fi
if [ -z "$TUNELAB_TASK_ID" ]; then
  echo "no Tunelab task: start the job from Tunelab, or push a commit with a" \\
    "'{TRAILER}: <id>' trailer" >&2
  exit 1
fi
"""

_GITHUB_AUTH = """\
# Lets the agent fetch this repository with the job's token, for this job only.
auth="$(printf 'x-access-token:%s' "$GITHUB_TOKEN" | base64 | tr -d '\\n')"
echo "::add-mask::$auth"
{
  echo "GIT_CONFIG_COUNT=1"
  echo "GIT_CONFIG_KEY_0=http.$GITHUB_SERVER_URL/.extraheader"
  echo "GIT_CONFIG_VALUE_0=Authorization: Basic $auth"
} >> "$GITHUB_ENV"
"""

_GITLAB_AUTH = """\
# Lets the agent fetch this repository with the job's token, for this job only.
export GIT_CONFIG_COUNT=1
export GIT_CONFIG_KEY_0="http.$CI_SERVER_URL/.extraheader"
auth="$(printf 'gitlab-ci-token:%s' "$CI_JOB_TOKEN" | base64 | tr -d '\\n')"
export GIT_CONFIG_VALUE_0="Authorization: Basic $auth"
"""

_HEADER = """\
# Runs Tunelab tasks from this repository: written by Tunelab's CI setup wizard.
# {where}: TUNELAB_API_URL (the server's address) and TUNELAB_API_KEY (an API key of a
# worker account: tunelab user create NAME --worker; tunelab token create --user NAME){cloud}.
"""


def render_all(settings: CiSettings) -> dict[str, str]:
    return {"github": github_workflow(settings), "gitlab": gitlab_ci(settings)}


def github_workflow(settings: CiSettings) -> str:
    """``.github/workflows/<settings.workflow_file>``."""
    jobs: dict[str, Any] = {}
    run_job: dict[str, Any] = {}
    started = f"github.event_name == 'workflow_dispatch' || {_github_trailer_check()}"
    if settings.runner == "cloud":
        jobs["deploy-runner"] = {
            "if": started,
            "runs-on": "ubuntu-latest",
            "steps": [
                {"uses": "iterative/setup-cml@v2"},
                {
                    "name": f"Launch a runner on {settings.cloud}",
                    "env": {
                        "REPO_TOKEN": "${{ secrets.PERSONAL_ACCESS_TOKEN }}",
                        **{s: f"${{{{ secrets.{s} }}}}" for s in CLOUD_SECRETS[settings.cloud]},
                        **_cml_env(settings),
                    },
                    "run": _cml_launch(settings),
                },
            ],
        }
        run_job["needs"] = "deploy-runner"
    run_job["if"] = started
    run_job["runs-on"] = (
        "ubuntu-latest" if settings.runner == "hosted" else ["self-hosted", *settings.labels]
    )
    run_job["env"] = {
        "TUNELAB_API_URL": "${{ secrets.TUNELAB_API_URL }}",
        # The SDK and the agent read the key from TUNELAB_API_TOKEN.
        "TUNELAB_API_TOKEN": "${{ secrets.TUNELAB_API_KEY }}",
        "TUNELAB_TASK_ID": "${{ inputs.task_id }}",
    }
    run_job["steps"] = [
        {"uses": "actions/checkout@v4"},
        {"uses": "actions/setup-python@v5", "with": {"python-version": settings.python_version}},
        {
            "name": "Install Tunelab",
            "env": {"TUNELAB_PACKAGE": settings.package},
            "run": 'python -m pip install "$TUNELAB_PACKAGE"',
        },
        {
            "name": "Find the task",
            "run": _FIND_TASK + 'echo "TUNELAB_TASK_ID=$TUNELAB_TASK_ID" >> "$GITHUB_ENV"\n',
        },
        {
            "name": "Let the agent fetch the repository",
            "env": {"GITHUB_TOKEN": "${{ github.token }}"},
            "run": _GITHUB_AUTH,
        },
        {"name": "Run the task", "run": _github_literal(settings.script) + "\n"},
    ]
    jobs["run-task"] = run_job
    workflow = {
        "name": "Tunelab",
        "on": {
            "workflow_dispatch": {
                "inputs": {
                    "task_id": {
                        "description": "The Tunelab task to run",
                        "required": False,
                        "type": "string",
                    }
                }
            },
            "push": {"branches": [BRANCHES]},
        },
        "permissions": {"contents": "read"},
        "jobs": jobs,
    }
    return _header(settings, "secrets") + _dump(workflow)


def gitlab_ci(settings: CiSettings) -> str:
    """``.gitlab-ci.yml`` (or a file it includes): jobs that run only when started by
    Tunelab, so the repository's other pipelines are left as they are."""
    rules = [
        {"if": "$task_id"},
        {"if": f"$CI_COMMIT_BRANCH =~ /^tunelab\\// && $CI_COMMIT_MESSAGE =~ /{TRAILER}:/"},
    ]
    config: dict[str, Any] = {}
    run_job: dict[str, Any] = {}
    if settings.runner == "cloud":
        # GitLab's own first stage: no `stages:` list that would clash with the project's.
        config["deploy-runner"] = {
            "stage": ".pre",
            "image": CML_IMAGE,
            "rules": rules,
            "variables": _cml_env(settings),
            "script": [_cml_launch(settings)],
        }
        run_job["stage"] = "test"
        run_job["needs"] = ["deploy-runner"]
    run_job["image"] = f"python:{settings.python_version}"
    if settings.runner != "hosted":
        run_job["tags"] = list(settings.labels)
    run_job["rules"] = rules
    # TUNELAB_API_URL comes as it is; the SDK and the agent read the key as TUNELAB_API_TOKEN.
    run_job["variables"] = {
        "TUNELAB_API_TOKEN": "$TUNELAB_API_KEY",
        "TUNELAB_PACKAGE": settings.package,
    }
    run_job["script"] = [
        'python -m pip install "$TUNELAB_PACKAGE"',
        'TUNELAB_TASK_ID="${task_id:-}"\n' + _FIND_TASK + "export TUNELAB_TASK_ID\n",
        _GITLAB_AUTH,
        settings.script + "\n",
    ]
    config["tunelab-run-task"] = run_job
    return _header(settings, "CI/CD variables") + _dump(config)


def _github_trailer_check() -> str:
    return f"contains(github.event.head_commit.message, '{TRAILER}:')"


def _cml_env(settings: CiSettings) -> dict[str, str]:
    env = {
        "CML_CLOUD": settings.cloud,
        "CML_CLOUD_REGION": settings.region,
        "CML_CLOUD_TYPE": settings.instance_type,
        "CML_CLOUD_HDD_SIZE": str(settings.disk_size),
        "CML_LABELS": ",".join(settings.labels),
    }
    if settings.gpu:
        env["CML_CLOUD_GPU"] = settings.gpu
    return env


def _cml_launch(settings: CiSettings) -> str:
    """``cml runner launch`` with every value from the environment, quoted for the shell."""
    flags = [
        '--cloud="$CML_CLOUD"',
        '--cloud-region="$CML_CLOUD_REGION"',
        '--cloud-type="$CML_CLOUD_TYPE"',
        '--cloud-hdd-size="$CML_CLOUD_HDD_SIZE"',
        '--labels="$CML_LABELS"',
    ]
    if settings.gpu:
        flags.append('--cloud-gpu="$CML_CLOUD_GPU"')
    if settings.spot:
        flags.append("--cloud-spot")
    flags.extend(["--reuse", "--reuse-idle"] if settings.reuse else ["--single"])
    return "cml runner launch \\\n  " + " \\\n  ".join(flags) + "\n"


def _github_literal(text: str) -> str:
    """Text GitHub Actions shows as it is: ``${{`` written as an expression yielding it."""
    return text.replace("${{", "${{ '${{' }}")


def _header(settings: CiSettings, where: str) -> str:
    cloud = ""
    if settings.runner == "cloud":
        token = "PERSONAL_ACCESS_TOKEN" if where == "secrets" else "REPO_TOKEN"
        names = (token, *CLOUD_SECRETS[settings.cloud])
        cloud = f";\n# for the cloud runner (CML): {', '.join(names)}"
    return _HEADER.format(where=where[0].upper() + where[1:], cloud=cloud)


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        # Each job spelled out in full: no &anchors for a reader to chase.
        return True


def _str(dumper: Any, value: str) -> Any:
    # Scripts as block literals, as people write them; PyYAML falls back to quoting where
    # a block cannot hold the text (trailing spaces, some control characters).
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(data: dict[str, Any]) -> str:
    return str(
        yaml.dump(
            data,
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            width=1000,
            allow_unicode=True,
        )
    )

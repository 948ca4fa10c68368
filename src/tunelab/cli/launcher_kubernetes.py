"""The options of ``tunelab launcher --backend kubernetes`` and the back end they make.

Example::

    tunelab launcher --queue gpu --backend kubernetes --namespace ml \\
        --image ghcr.io/acme/train:1 --node-selector pool=gpu \\
        --toleration nvidia.com/gpu:NoSchedule --service-account tunelab-jobs \\
        --job-template job.yaml --ttl 3600
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = [
    click.option(
        "--kubeconfig",
        default="",
        metavar="FILE",
        help="Kubernetes: the kubeconfig [default: in a pod its service account, else "
        "$KUBECONFIG or ~/.kube/config].",
    ),
    click.option("--context", default="", help="Kubernetes: the kubeconfig's context to use."),
    click.option(
        "--namespace", default="default", show_default=True, help="Kubernetes: the Jobs' namespace."
    ),
    click.option(
        "--image",
        default="",
        help="Kubernetes: the image of a task that names none (tunelab installed in it).",
    ),
    click.option(
        "--node-selector",
        "node_selectors",
        multiple=True,
        metavar="KEY=VALUE",
        help="Kubernetes: a node label every pod needs (repeat for more).",
    ),
    click.option(
        "--toleration",
        "tolerations",
        multiple=True,
        metavar="KEY[=VALUE][:EFFECT]",
        help="Kubernetes: a taint every pod tolerates, e.g. nvidia.com/gpu:NoSchedule.",
    ),
    click.option("--service-account", default="", help="Kubernetes: the pods' service account."),
    click.option(
        "--image-pull-secret",
        "image_pull_secrets",
        multiple=True,
        metavar="NAME",
        help="Kubernetes: a Secret to pull images with (repeat for more).",
    ),
    click.option(
        "--ttl",
        type=click.IntRange(0),
        default=3600,
        show_default=True,
        help="Kubernetes: seconds a finished Job is kept (ttlSecondsAfterFinished).",
    ),
    click.option(
        "--job-template",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="Kubernetes: a Job in YAML under every generated one (its defaults and extra "
        "fields; the task's command, variables and resources win).",
    ),
    click.option(
        "--gpu-resource",
        default="nvidia.com/gpu",
        show_default=True,
        help="Kubernetes: the resource a task's GPUs are asked as.",
    ),
    click.option(
        "--gpu-type-label",
        default="nvidia.com/gpu.product",
        show_default=True,
        help="Kubernetes: the node label a task's GPU type selects; empty: the type is a "
        "resource name beside --gpu-resource (nvidia.com/TYPE).",
    ),
    click.option(
        "--pod-work-dir",
        default="/tmp/tunelab",
        show_default=True,
        help="Kubernetes: the agent's work dir in the pod (mount a volume there with the "
        "job template to keep environments between tasks).",
    ),
]


def kubernetes_options(command: F) -> F:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def kubernetes_backend(worker_id: str, options: dict[str, Any]) -> Any:
    """The Kubernetes back end the options ask for; click's usage errors for bad ones."""
    from tunelab.launchers.base import LaunchError
    from tunelab.launchers.kubernetes import Kubernetes
    from tunelab.launchers.kubernetes_manifest import JobSpec, load_template, parse_toleration

    if not options["image"]:
        raise click.UsageError("--backend kubernetes needs --image (an image with tunelab)")
    selector = {}
    for pair in options["node_selectors"]:
        key, equals, value = pair.partition("=")
        if not key or not equals:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--node-selector")
        selector[key] = value
    try:
        tolerations = tuple(parse_toleration(text) for text in options["tolerations"])
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--toleration") from exc
    template: dict[str, Any] = {}
    if options["job_template"] is not None:
        try:
            template = load_template(options["job_template"].read_text())
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--job-template") from exc
    spec = JobSpec(
        namespace=options["namespace"],
        image=options["image"],
        node_selector=selector,
        tolerations=tolerations,
        service_account=options["service_account"],
        image_pull_secrets=tuple(options["image_pull_secrets"]),
        ttl_seconds=options["ttl"],
        gpu_resource=options["gpu_resource"],
        gpu_type_label=options["gpu_type_label"],
        template=template,
    )
    try:
        backend = Kubernetes(
            spec,
            launcher=worker_id,
            kubeconfig=options["kubeconfig"],
            context=options["context"],
        )
        backend.check()
    except LaunchError as exc:
        raise click.UsageError(exc.message) from exc
    return backend

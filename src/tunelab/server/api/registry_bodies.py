"""Request bodies of the artifact, model and input-model routes: strict types, no unknown
fields, bounded, NaN and infinity refused (``task_models._Body``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, StringConstraints

from tunelab.server.api.task_models import LongText, ProjectName, ShortText, Tag, TaskId, _Body

_INT64_MAX = 2**63 - 1

Kind = Annotated[str, StringConstraints(max_length=64)]  # an artifact's type or format
Uri = Annotated[str, StringConstraints(max_length=4096)]
Size = Annotated[int, Field(ge=0, le=_INT64_MAX)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
# An artifact may name a file it has no hash for (a reference to data stored elsewhere).
MaybeSha256 = Annotated[str, StringConstraints(pattern=r"^([0-9a-fA-F]{64})?$")]
Preview = Annotated[str, StringConstraints(max_length=64 * 1024)]
Metadata = Annotated[
    dict[Annotated[str, StringConstraints(max_length=256)], JsonValue], Field(max_length=1_000)
]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
ModelId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Framework = Annotated[str, StringConstraints(max_length=128)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Labels = Annotated[
    dict[Label, Annotated[int, Field(ge=-_INT64_MAX - 1, le=_INT64_MAX)]],
    Field(max_length=10_000),
]
Tags = Annotated[list[Tag], Field(max_length=1_000)]


class ArtifactPut(_Body):
    """``PUT /tasks/{id}/artifacts/{name}``: what the file is and where it lives."""

    type: Kind
    format: Kind
    uri: Uri
    size: Size
    sha256: MaybeSha256
    preview: Preview = ""
    metadata: Metadata = {}


class ModelCreate(_Body):
    name: ModelName
    project: ProjectName | None = None
    task_id: TaskId | None = None
    framework: Framework = ""
    uri: Uri = ""
    config_text: LongText = ""
    labels: Labels = {}
    tags: Tags = []
    comment: ShortText = ""
    size: Size | None = None
    sha256: Sha256 | None = None


class ModelWeights(_Body):
    """``PUT /models/{id}/weights``: a file already in storage, registered without upload.
    ``size`` and ``sha256`` are what the caller measured (a local file); the server finds
    the size of one it can read itself."""

    uri: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    size: Size | None = None
    sha256: Sha256 | None = None


ReportText = Annotated[str, StringConstraints(max_length=512)]


class ModelReport(_Body):
    kind: Literal["scalar", "single", "table", "line"]
    title: ReportText = ""
    series: ReportText
    iteration: Annotated[int, Field(ge=-_INT64_MAX - 1, le=_INT64_MAX)] = 0
    value: float | None = None
    data: dict[str, JsonValue] | None = None


class ModelReports(_Body):
    """``POST /models/{id}/reports``: scalars, single values, tables and line plots."""

    reports: Annotated[list[ModelReport], Field(max_length=10_000)]


class ModelUpdate(_Body):
    """Every field optional; only those sent change. ``size`` and ``sha256`` may be set to
    ``null``; a ``null`` elsewhere is refused (the store says which)."""

    name: ModelName | None = None
    framework: Framework | None = None
    uri: Uri | None = None
    config_text: LongText | None = None
    labels: Labels | None = None
    tags: Tags | None = None
    comment: ShortText | None = None
    size: Size | None = None
    sha256: Sha256 | None = None
    archived: bool | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class InputModelSet(_Body):
    """``PUT /tasks/{id}/input_model``: a model id, or ``null`` for none."""

    model_id: ModelId | None

"""Request bodies of the projects and tasks routes: strict types, no unknown fields, bounded.

Parameter and property values are text; a number or boolean sent instead is turned into the
text Python would print, and when no ``type`` is given it is inferred from the JSON value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, model_validator

from tunelab.domain import input_limits as limits
from tunelab.domain import times
from tunelab.domain.task import TaskStatus, TaskType


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


# Whole numbers the database stores in 64-bit columns: bigger ones are refused, not a 500.
INT64_MAX = 2**63 - 1

# Long texts (a git diff, a requirements file, a config file) are bounded by the body limit.
LONG_TEXT = limits.LONG_TEXT

ProjectName = Annotated[str, StringConstraints(min_length=1, max_length=512)]
TaskName = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
TaskId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=256)]
UserName = Annotated[str, StringConstraints(max_length=256)]
ShortText = Annotated[str, StringConstraints(max_length=limits.SHORT_TEXT)]
LongText = Annotated[str, StringConstraints(max_length=LONG_TEXT)]
SectionName = Annotated[str, StringConstraints(min_length=1, max_length=limits.SECTION_NAME)]
EntryName = Annotated[str, StringConstraints(min_length=1, max_length=limits.ENTRY_NAME)]
TypeName = Annotated[str, StringConstraints(max_length=limits.TYPE_NAME)]
# Epoch seconds a calendar can show (tunelab.domain.times): a page renders every one.
Time = Annotated[float, Field(ge=times.EARLIEST, le=times.LATEST, allow_inf_nan=False)]
# Enum values arrive as JSON strings; strict mode would want enum instances.
Status = Annotated[TaskStatus, Strict(False)]
Type = Annotated[TaskType, Strict(False)]

_JSON_TYPE_NAMES = {bool: "bool", int: "int", float: "float"}


class ProjectCreate(_Body):
    name: ProjectName
    description: ShortText = ""


class ProjectUpdate(_Body):
    description: ShortText


# A parameter's value is shown in tables and compared; long texts belong in configuration
# objects. A 10 MB value was stored before (only the body limit stopped it).
ParameterValue = Annotated[str, StringConstraints(max_length=limits.PARAMETER_VALUE)]


class Parameter(_Body):
    """A hyperparameter or a user property."""

    value: ParameterValue
    type: TypeName = "str"
    description: ShortText = ""

    @model_validator(mode="before")
    @classmethod
    def _value_as_text(cls, data: Any) -> Any:
        if isinstance(data, dict) and type(data.get("value")) in _JSON_TYPE_NAMES:
            value = data["value"]
            data = {**data, "value": str(value)}
            data.setdefault("type", _JSON_TYPE_NAMES[type(value)])
        return data


class ConfigurationObject(_Body):
    text: LongText
    type: TypeName = "dictionary"
    description: ShortText = ""


Hyperparameters = Annotated[
    dict[SectionName, Annotated[dict[EntryName, Parameter], Field(max_length=limits.ENTRIES)]],
    Field(max_length=limits.SECTIONS),
]
HyperparametersPatch = Annotated[
    dict[
        SectionName,
        Annotated[dict[EntryName, Parameter | None], Field(max_length=limits.ENTRIES)] | None,
    ],
    Field(max_length=limits.SECTIONS),
]
Configuration = Annotated[
    dict[EntryName, ConfigurationObject], Field(max_length=limits.CONFIGURATIONS)
]
ConfigurationPatch = Annotated[
    dict[EntryName, ConfigurationObject | None], Field(max_length=limits.CONFIGURATIONS)
]
UserProperties = Annotated[dict[EntryName, Parameter], Field(max_length=limits.ENTRIES)]
UserPropertiesPatch = Annotated[dict[EntryName, Parameter | None], Field(max_length=limits.ENTRIES)]


class ExecutionIn(_Body):
    """Where the code came from; on PATCH only the keys sent are replaced."""

    repository: ShortText = ""
    branch: ShortText = ""
    commit: ShortText = ""
    entry_point: ShortText = ""
    working_dir: ShortText = ""
    binary: ShortText = ""
    diff: LongText = ""
    diff_error: ShortText = ""
    requirements: LongText = ""
    original_requirements: LongText = ""
    docker_image: ShortText = ""
    docker_arguments: ShortText = ""
    docker_setup_script: LongText = ""
    output_uri: ShortText = ""


class MachineIn(_Body):
    host: ShortText = ""
    os: ShortText = ""
    python: ShortText = ""
    cpu_count: Annotated[int, Field(ge=0, le=INT64_MAX)] = 0
    memory_gb: Annotated[float, Field(ge=0)] = 0.0
    gpus: Annotated[list[ShortText], Field(max_length=256)] = []
    os_user: ShortText = ""


class RuntimeIn(MachineIn):
    # The runtime the task was first recorded with, kept when an agent runs it again.
    original: MachineIn | None = None


RepositoryPath = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
BranchName = Annotated[str, StringConstraints(max_length=255)]


class DataFileIn(_Body):
    """A repository file replaced for a git run (``tunelab.domain.git_run.DataFile``)."""

    path: RepositoryPath
    uri: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
    size: Annotated[int, Field(ge=0, le=INT64_MAX)]
    source: Literal["upload", "artifact"] = "upload"
    artifact_task: Annotated[str, StringConstraints(max_length=32)] = ""
    artifact_name: Annotated[str, StringConstraints(max_length=1024)] = ""


class GitResultsIn(_Body):
    state: Literal["", "pushed", "failed", "not_pushed"] = ""
    error: ShortText = ""
    commit: Annotated[str, StringConstraints(max_length=64)] = ""
    branch: BranchName = ""
    pull_request_url: Annotated[str, StringConstraints(max_length=4096)] = ""
    bundle: Annotated[str, StringConstraints(max_length=1024)] = ""


class GitRunIn(_Body):
    """A run of a repository commit (``tunelab.domain.git_run.GitRun``); on a PATCH the
    record is replaced whole and its ``results`` stay as recorded."""

    params_files: Annotated[list[RepositoryPath], Field(max_length=1_000)] = []
    data_files: Annotated[list[DataFileIn], Field(max_length=1_000)] = []
    script: Annotated[str, StringConstraints(max_length=1024 * 1024)] = ""
    commit_message: ShortText = ""
    commit_description: ShortText = ""
    base_branch: BranchName = ""
    branch: BranchName = ""
    pull_request: bool = False
    runs_on: Literal["queue", "ci"] = "queue"
    results: GitResultsIn = Field(default_factory=GitResultsIn)


ResourceName = Annotated[str, StringConstraints(max_length=128)]
SizeText = Annotated[str, StringConstraints(max_length=32)]


class ResourcesIn(_Body):
    """What the task asks of the machine that runs it (``tunelab.domain.resources``): sizes
    like ``16G``, time limits like ``2:00:00`` or ``90m``; on a PATCH only the fields sent
    change (``null`` or ``""`` clears one)."""

    gpus: Annotated[int, Field(ge=0, le=4096)] | None = None
    gpu_type: ResourceName = ""
    cpus: Annotated[int, Field(ge=1, le=4096)] | None = None
    memory: SizeText = ""
    time_limit: SizeText = ""
    cloud: ResourceName = ""
    region: ResourceName = ""
    instance_type: ResourceName = ""
    spot: bool = False
    disk_size: SizeText = ""


LaunchText = Annotated[str, StringConstraints(max_length=256)]


class LaunchIn(_Body):
    """The scheduler job a launcher runs the task in (``tunelab.domain.launch``)."""

    backend: LaunchText = ""
    job_id: LaunchText = ""
    state: LaunchText = ""
    reason: LaunchText = ""
    launcher: LaunchText = ""
    updated: Time | None = None
    cost: LaunchText = ""


class TaskCreate(_Body):
    name: TaskName
    project: ProjectName
    type: Type = TaskType.TRAINING
    status: Status = TaskStatus.DRAFT
    # Defaults from factories: pydantic deep-copies a mutable default for every body, a
    # third of the time it takes to read a small one.
    tags: Annotated[list[Tag], Field(max_length=1_000)] = Field(default_factory=list)
    comment: ShortText = ""
    parent: TaskId | None = None
    user: UserName = ""
    execution: ExecutionIn = Field(default_factory=ExecutionIn)
    hyperparameters: Hyperparameters = Field(default_factory=dict)
    configuration: Configuration = Field(default_factory=dict)
    user_properties: UserProperties = Field(default_factory=dict)
    runtime: RuntimeIn = Field(default_factory=RuntimeIn)
    git_run: GitRunIn | None = None
    resources: ResourcesIn | None = None


class TaskUpdate(_Body):
    """Every field optional; only those sent change. A ``null`` is refused where the field
    cannot be empty (the store says which)."""

    name: TaskName | None = None
    tags: Annotated[list[Tag], Field(max_length=1_000)] | None = None
    comment: ShortText | None = None
    status: Status | None = None
    status_reason: ShortText | None = None
    type: Type | None = None
    parent: TaskId | None = None
    user: UserName | None = None
    started: Time | None = None
    completed: Time | None = None
    last_iteration: Annotated[int, Field(ge=0, le=INT64_MAX)] | None = None
    archived: bool | None = None
    execution: ExecutionIn | None = None
    runtime: RuntimeIn | None = None
    git_run: GitRunIn | None = None
    resources: ResourcesIn | None = None
    launch: LaunchIn | None = None

    def changes(self) -> dict[str, Any]:
        """The fields sent, nested objects holding only their keys sent."""
        return self.model_dump(exclude_unset=True)

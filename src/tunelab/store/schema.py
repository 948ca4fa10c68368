"""Every table Tunelab keeps, as SQLAlchemy Core. Alembic migrations follow this file.

Times are float seconds since the epoch (UTC). Ids are 32-character hex strings.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = sa.String(32)
Time = sa.Float(precision=53)

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", Id, primary_key=True),
    # The full path: "vision/resnet" nests under "vision".
    sa.Column("name", sa.String(512), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created", Time, nullable=False),
    sa.Column("last_update", Time, nullable=False),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(1024), nullable=False),
    sa.Column("project_id", Id, sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("status_reason", sa.Text, nullable=False, server_default=""),
    sa.Column("comment", sa.Text, nullable=False, server_default=""),
    sa.Column("parent_id", Id, nullable=True),
    sa.Column("user", sa.String(256), nullable=False, server_default=""),
    sa.Column("created", Time, nullable=False),
    sa.Column("started", Time, nullable=True),
    sa.Column("completed", Time, nullable=True),
    sa.Column("last_update", Time, nullable=False),
    sa.Column("last_iteration", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    # Execution (repository, commit, diff, requirements, docker, output_uri...) and the
    # machine's runtime are read and written whole, never searched: JSON columns.
    sa.Column("execution", sa.JSON, nullable=False),
    sa.Column("runtime", sa.JSON, nullable=False),
    # Where the task waits or ran: the queue it was enqueued to and the worker that took it.
    sa.Column("queue_id", Id, nullable=True),
    sa.Column("worker_id", sa.String(256), nullable=True),
    # Who made the last change through the server (a user's name), when auth knows it.
    sa.Column("last_changed_by", sa.String(128), nullable=True),
    # A running task asked to stop: the agent running it sees this on its next heartbeat.
    sa.Column("stop_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    # The model the task starts from (``models.id``). No foreign key: models point back at
    # tasks, and a cycle of keys would order neither table first; the store keeps it valid.
    sa.Column("input_model_id", Id, nullable=True),
    # The database's clock (store.task_activity) when a running task last sent anything or
    # pinged, and when a stop was asked: the upkeep ends runs nobody runs any more.
    sa.Column("last_active", Time, nullable=True),
    sa.Column("stop_requested_at", Time, nullable=True),
    # What the SDK could not record of the run, and why ({"items": [...], "dropped": n};
    # NULL: nothing failed). Read with the whole task only (store.capture_warnings).
    sa.Column("capture_warnings", sa.JSON, nullable=True),
    # A run of a repository commit with edits (domain.git_run.GitRun as a dict; NULL: an
    # ordinary task). Read with the whole task only (store.git_runs).
    sa.Column("git_run", sa.JSON, nullable=True),
    # What the task asks of the machine that runs it (domain.resources.Resources as a dict;
    # NULL: nothing), and the scheduler job a launcher runs it in (domain.launch.Launch).
    sa.Column("resources", sa.JSON, nullable=True),
    sa.Column("launch", sa.JSON, nullable=True),
    sa.Index(None, "project_id", "last_update"),
    # Covers the listing's usual filters, so counting a page's total reads only this index.
    sa.Index(None, "project_id", "archived", "status"),
    sa.Index(None, "status"),
    sa.Index(None, "last_update"),
    # Sorting a big listing by a time walks its index instead of sorting every task.
    sa.Index(None, "created"),
    sa.Index(None, "started"),
    sa.Index(None, "completed"),
    sa.Index(None, "name"),
    sa.Index(None, "parent_id"),
    # "Is this model any task's input?" before a model is deleted.
    sa.Index(None, "input_model_id"),
)

task_tags = sa.Table(
    "task_tags",
    metadata,
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", sa.String(256), primary_key=True),
    sa.Index(None, "tag"),
)

task_params = sa.Table(
    "task_params",
    metadata,
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("section", sa.String(256), primary_key=True),
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("type", sa.String(64), nullable=False, server_default="str"),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Index(None, "section", "name"),
)

# A hyperparameter's value as a number when its type is int or float and its text reads as
# one, else NULL; ``{t}`` is "" or a table prefix ("task_params."). Sorting by a parameter
# orders by this expression, and the index below holds it, so the first page of a sort is an
# index walk. PostgreSQL fails a whole query on CAST('abc' AS float), hence the check; SQLite
# never fails a CAST but reads 'abc' as 0, hence a similar check (GLOB is native; a REGEXP
# would call back into Python). The query must spell it exactly as the index does.
PARAM_NUMBER_SQL = {
    "sqlite": (
        "CASE WHEN {t}type IN ('int', 'float') AND {t}value GLOB '*[0-9]*' "
        "AND {t}value NOT GLOB '*[^0-9eE.+-]*' THEN CAST({t}value AS REAL) END"
    ),
    "postgresql": (
        "CASE WHEN {t}type IN ('int', 'float') "
        # Bounded digits and exponent: every match fits a double (PostgreSQL refuses to cast
        # "1e999"; migration 0007).
        "AND {t}value ~ '^[-+]?([0-9]{{1,200}}(\\.[0-9]{{0,200}})?|\\.[0-9]{{1,200}})"
        "([eE][-+]?[0-9]{{1,2}})?$' "
        "THEN CAST({t}value AS DOUBLE PRECISION) END"
    ),
}
for _dialect, _number in PARAM_NUMBER_SQL.items():
    sa.Index(
        "ix_task_params_section_name_number",
        task_params.c.section,
        task_params.c.name,
        sa.text(f"({_number.format(t='')})"),
    ).ddl_if(dialect=_dialect)

task_configuration = sa.Table(
    "task_configuration",
    metadata,
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("type", sa.String(64), nullable=False, server_default="dictionary"),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
)

task_properties = sa.Table(
    "task_properties",
    metadata,
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("type", sa.String(64), nullable=False, server_default="str"),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
)

# One row per ingested batch per (task, metric, variant): packed little-endian arrays.
scalar_chunks = sa.Table(
    "scalar_chunks",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("metric", sa.String(512), nullable=False),
    sa.Column("variant", sa.String(512), nullable=False),
    sa.Column("first_iter", sa.BigInteger, nullable=False),
    sa.Column("last_iter", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("iterations", sa.LargeBinary, nullable=False),
    sa.Column("values", sa.LargeBinary, nullable=False),
    sa.Column("timestamps", sa.LargeBinary, nullable=False),
    sa.Index(None, "task_id", "metric", "variant", "first_iter"),
)

# Per task, per metric/variant: kept current on ingest; tables, sorting and leaderboards
# read only this.
task_metrics = sa.Table(
    "task_metrics",
    metadata,
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("metric", sa.String(512), primary_key=True),
    sa.Column("variant", sa.String(512), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("last", sa.Float(precision=53), nullable=True),
    sa.Column("last_iter", sa.BigInteger, nullable=True),
    sa.Column("min", sa.Float(precision=53), nullable=True),
    sa.Column("min_iter", sa.BigInteger, nullable=True),
    sa.Column("max", sa.Float(precision=53), nullable=True),
    sa.Column("max_iter", sa.BigInteger, nullable=True),
    sa.Column("last_time", Time, nullable=True),
    # Ending in the task id, the order a sorted listing pages by (value, id): a cursor
    # page starts in the index right after the previous page's last row.
    sa.Index(None, "metric", "variant", "last", "task_id"),
    sa.Index(None, "metric", "variant", "min", "task_id"),
    sa.Index(None, "metric", "variant", "max", "task_id"),
)

# Batch ids already stored, so a batch the SDK retries is stored once.
ingested_batches = sa.Table(
    "ingested_batches",
    metadata,
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("created", Time, nullable=False),
)

console_lines = sa.Table(
    "console_lines",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("ts", Time, nullable=False),
    sa.Column("stream", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Index(None, "task_id", "id"),
)


# Histograms, scatter plots, confusion matrices, tables and images: one row per plot and
# iteration (reporting the same one again replaces it); ``data`` is the plot's JSON text
# (``tunelab.domain.plots``), read and written whole.
task_plots = sa.Table(
    "task_plots",
    metadata,
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("title", sa.String(512), primary_key=True),
    sa.Column("series", sa.String(512), primary_key=True),
    sa.Column("iteration", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("created", Time, nullable=False),
)

# A task's debug samples (``tunelab.domain.debug_samples``): one file per title, series and
# iteration (reporting the same one again replaces it), the file itself in storage at ``uri``.
task_debug_samples = sa.Table(
    "task_debug_samples",
    metadata,
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("title", sa.String(512), primary_key=True),
    sa.Column("series", sa.String(512), primary_key=True),
    sa.Column("iteration", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("mime", sa.String(255), nullable=False),
    sa.Column("uri", sa.String(2048), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created", Time, nullable=False),
)


queues = sa.Table(
    "queues",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(256), nullable=False, unique=True),
    sa.Column("created", Time, nullable=False),
)

# A task waits in at most one queue; position orders the queue (smallest first).
queue_entries = sa.Table(
    "queue_entries",
    metadata,
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("queue_id", Id, sa.ForeignKey("queues.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("added", Time, nullable=False),
    # The account that enqueued it: the key its run gets reads what this account may.
    sa.Column("enqueued_by", Id, nullable=True),
    sa.Index(None, "queue_id", "position"),
)

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(256), primary_key=True),
    sa.Column("queues", sa.JSON, nullable=False),
    sa.Column("task_id", Id, nullable=True),
    sa.Column("host", sa.String(256), nullable=False, server_default=""),
    sa.Column("registered", Time, nullable=False),
    sa.Column("last_heartbeat", Time, nullable=False),
    # The account whose token registered it: a worker account may write to the tasks its
    # workers run, and to no other.
    sa.Column("user_id", Id, nullable=True),
)


# What a task produced, by name; the files themselves live in object storage at ``uri``.
task_artifacts = sa.Table(
    "task_artifacts",
    metadata,
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("type", sa.String(64), nullable=False, server_default=""),
    sa.Column("format", sa.String(64), nullable=False, server_default=""),
    sa.Column("uri", sa.Text, nullable=False, server_default=""),
    sa.Column("size", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("sha256", sa.String(64), nullable=False, server_default=""),
    sa.Column("preview", sa.Text, nullable=False, server_default=""),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("created", Time, nullable=False),
)

# Uploads of a task's files that failed (the record written, the file not stored), one per
# (kind, name): shown on the task until an upload of that name succeeds. ``path`` is the file
# on the machine that tried, ``record`` what registering it needs once it is uploaded.
task_upload_failures = sa.Table(
    "task_upload_failures",
    metadata,
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("path", sa.Text, nullable=False, server_default=""),
    sa.Column("host", sa.String(256), nullable=False, server_default=""),
    sa.Column("uri", sa.Text, nullable=False, server_default=""),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("created", Time, nullable=False),
)

# Models outlive the task that made them: deleting the task keeps a published model or one
# another task starts from, with no task.
models = sa.Table(
    "models",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(1024), nullable=False),
    sa.Column("project_id", Id, sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="SET NULL"), nullable=True),
    sa.Column("framework", sa.String(128), nullable=False, server_default=""),
    sa.Column("uri", sa.Text, nullable=False, server_default=""),
    sa.Column("config_text", sa.Text, nullable=False, server_default=""),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("comment", sa.Text, nullable=False, server_default=""),
    sa.Column("published", sa.Boolean, nullable=False, server_default=sa.false()),
    # Hidden from the models listing (unless asked for) without being deleted.
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("size", sa.BigInteger, nullable=True),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("created", Time, nullable=False),
    sa.Column("last_update", Time, nullable=False),
    sa.Index(None, "project_id", "created"),
    # The default listing, newest first, across every project.
    sa.Index(None, "created"),
    sa.Index(None, "framework"),
    sa.Index(None, "name"),
    # A task's output models, read with every task.
    sa.Index(None, "task_id"),
)

model_tags = sa.Table(
    "model_tags",
    metadata,
    sa.Column("model_id", Id, sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", sa.String(256), primary_key=True),
    sa.Index(None, "tag"),
)

# What a model reports of itself (``store.model_reports``): scalars per iteration, single
# values, tables and line plots; the same kind, title, series and iteration again replaces.
model_reports = sa.Table(
    "model_reports",
    metadata,
    sa.Column("model_id", Id, sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("title", sa.String(512), primary_key=True),
    sa.Column("series", sa.String(512), primary_key=True),
    sa.Column("iteration", sa.BigInteger, primary_key=True),
    sa.Column("value", sa.Float(precision=53), nullable=True),
    sa.Column("data", sa.JSON, nullable=True),
    sa.Column("created", Time, nullable=False),
)


# --- accounts and access -----------------------------------------------------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    # argon2id; NULL for an account that only uses API keys (a worker).
    sa.Column("password_hash", sa.String(256), nullable=True),
    # admin | member | worker (tunelab.domain.access.UserKind)
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created", Time, nullable=False),
)

# API keys: only their SHA-256 is kept (the key is random, 256 bits: a slow hash adds
# nothing); ``prefix`` is what lists show to tell keys apart.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False, server_default=""),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created", Time, nullable=False),
    sa.Column("last_used", Time, nullable=True),
    sa.Column("revoked", Time, nullable=True),
    sa.Index(None, "user_id"),
)

# Web sessions, by the SHA-256 of the cookie's value.
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created", Time, nullable=False),
    sa.Column("expires", Time, nullable=False),
    sa.Index(None, "user_id"),
)

# A user's role on a project, inherited by the projects under it.
project_roles = sa.Table(
    "project_roles",
    metadata,
    sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    # viewer | editor | owner (tunelab.domain.access.Role)
    sa.Column("role", sa.String(16), nullable=False),
    sa.Index(None, "user_id"),
)

# The keys a task's code runs with, by their SHA-256: minted when a worker takes the task,
# alive while it runs on that worker (``store.task_keys``).
task_keys = sa.Table(
    "task_keys",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("worker_id", sa.String(256), nullable=False),
    # Whose reads the key has: the account that enqueued the task (None: its own task only).
    sa.Column("owner_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    sa.Column("created", Time, nullable=False),
    sa.Index(None, "task_id"),
)

# A project's named table layouts (``store.saved_views``): columns, sort and filters, seen
# and used by everyone who may read the project.
saved_views = sa.Table(
    "saved_views",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    # {"cols": [...], "sort": "...", "filters": [...]}, read and written whole.
    sa.Column("layout", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=True),
    sa.Column("created", Time, nullable=False),
    sa.Column("last_update", Time, nullable=False),
    sa.UniqueConstraint("project_id", "name"),
)

# Which way a metric improves (tunelab.domain.metric_direction), set on a project for its
# tasks and the projects under it; a metric with no row here goes by its name.
metric_directions = sa.Table(
    "metric_directions",
    metadata,
    sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("metric", sa.String(512), primary_key=True),
    sa.Column("variant", sa.String(512), primary_key=True),
    # lower | higher
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("updated", Time, nullable=False),
)

# The git repository a project is linked to (store.repositories); the server keeps a mirror
# of it in its data directory. Credentials are the server's settings, never stored here.
project_repositories = sa.Table(
    "project_repositories",
    metadata,
    sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("default_branch", sa.String(255), nullable=False),
    # Lists of paths inside the repository (parameter files, metrics files).
    sa.Column("params_files", sa.JSON, nullable=False),
    sa.Column("metrics_files", sa.JSON, nullable=False),
    sa.Column("created", Time, nullable=False),
    sa.Column("last_update", Time, nullable=False),
    # The CI setup wizard's last saved fields (gitops.ci_workflow.CiSettings.to_dict()).
    sa.Column("ci_settings", sa.JSON, nullable=True),
)

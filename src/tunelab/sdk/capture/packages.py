"""The third-party packages a script needs, as ``name==version`` lines for the agent to install.

The script is scanned for imports (its ``ast``, never executed); when it imports modules of
its own repository, every Python file of the repository is scanned too. A lone script's
requirements are its own, not those of the tests and tools beside it. Each top-level module
name maps to the installed distributions that provide it. The standard library, the
repository's own modules and ``tunelab`` itself (the agent brings its own) are left out.

Some packages are needed without being imported: ``DataFrame.to_parquet`` loads pyarrow or
fastparquet by itself. ``OPTIONAL_ENGINES`` names those of the imported packages; the ones
installed are recorded too. Before ``Task.init`` a script may add or pin packages
(``Task.add_requirements``) or record the whole environment, or a requirements file, instead
of the analysis (``Task.force_requirements_env_freeze``), as ClearML's methods of those names.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILES = 2000
MAX_FOLDERS = 5000
MAX_FILE_BYTES = 1024 * 1024
# Folders that hold someone else's code or none at all.
SKIPPED_DIRS = frozenset(
    {"site-packages", "dist-packages", "node_modules", "__pycache__", "venv", "env", "build"}
)
EXCLUDED_DISTRIBUTIONS = frozenset({"tunelab"})
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# Held while a run's recorded requirements are read, merged and sent, so the source capture
# and the packages a fetched artifact needs never overwrite each other.
REQUIREMENTS_LOCK = threading.Lock()
# Imported module -> modules it loads by itself when a feature is used (a file format, an
# image backend). Only the installed ones are recorded.
OPTIONAL_ENGINES: Mapping[str, tuple[str, ...]] = {
    "pandas": ("pyarrow", "fastparquet", "openpyxl", "tables"),
    "polars": ("pyarrow",),
    "matplotlib": ("PIL",),
    "datasets": ("pyarrow",),
}
_VERSION_OPERATOR = re.compile(r"^\s*(==|>=|<=|!=|~=|>|<|===|@)")


@dataclass
class _Choices:
    """What the script asked for before Task.init (process-wide, as ClearML's)."""

    added: dict[str, str] = field(default_factory=dict)  # normalized name -> line
    freeze: bool = False
    requirements_file: Path | None = None


_choices = _Choices()


def add_requirements(package_name: str, package_version: str | None = None) -> None:
    """Record ``package_name`` in the requirements whatever the analysis finds, pinned to
    ``package_version`` (``"2.4.0"`` or ``">=2.4"``; None: the installed version; ``""``: any
    version). A path to a requirements file adds each package it lists."""
    path = Path(package_name).expanduser()
    if package_version is None and path.is_file():
        for line in path.read_text().splitlines():
            found = _REQUIREMENT_NAME.match(line)
            if found and not line.lstrip().startswith("#"):
                _choices.added[_normalized(found.group(1))] = line.strip()
        return
    name = package_name.strip()
    if package_version is None:
        version = _version(name)
        line = f"{name}=={version}" if version else name
    elif not package_version.strip():
        line = name
    elif _VERSION_OPERATOR.match(package_version):
        line = f"{name}{package_version.strip()}"
    else:
        line = f"{name}=={package_version.strip()}"
    _choices.added[_normalized(name)] = line


def force_requirements_env_freeze(
    force: bool = True, requirements_file: str | os.PathLike[str] | None = None
) -> None:
    """Record every installed package (``pip freeze``), or the file ``requirements_file``
    as it is, instead of the packages the code imports."""
    _choices.freeze = bool(force)
    # Read when the run starts; resolved now, while the folder is the one the user meant.
    path = Path(requirements_file).expanduser().absolute() if requirements_file else None
    _choices.requirements_file = path


def clear_requirement_choices() -> None:
    global _choices
    _choices = _Choices()


def capture_requirements(
    script_path: Path, repo_root: Path | None, full_freeze: bool = False
) -> str:
    """Requirements text, one ``name==version`` per line, sorted by name.

    >>> print(capture_requirements(Path("train.py"), Path(".")))  # doctest: +SKIP
    httpx==0.28.1
    PyYAML==6.0.3
    """
    added = list(_choices.added.values())
    if _choices.requirements_file is not None:
        text = _choices.requirements_file.read_text()
        text = text if not text or text.endswith("\n") else text + "\n"
        listed = {
            _normalized(m.group(1)) for m in map(_REQUIREMENT_NAME.match, text.splitlines()) if m
        }
        return text + "".join(f"{line}\n" for line in added if _line_name(line) not in listed)
    if full_freeze or _choices.freeze:
        found = _as_text(_installed_versions())
    else:
        found = _analysed(script_path, repo_root)
    return merge_requirements("".join(f"{line}\n" for line in added), found.splitlines())


def _analysed(script_path: Path, repo_root: Path | None) -> str:
    script = Path(script_path).resolve()
    root = Path(repo_root).resolve() if repo_root is not None else script.parent
    repository = [script, *(f for f in _python_files(root) if f != script)]
    local = _local_module_names(repository, root)
    imports = imported_modules(script)
    # "import tunelab" is the SDK, even in a checkout of Tunelab's own repository.
    if any(name.partition(".")[0] in local - {"tunelab"} for name in imports):
        for file in repository[1:]:
            imports |= imported_modules(file)
    wanted = {
        name.partition(".")[0]
        for name in imports
        if name.partition(".")[0] not in local and not _is_stdlib(name)
    }
    providers = metadata.packages_distributions()
    wanted |= {e for top in wanted for e in OPTIONAL_ENGINES.get(top, ()) if e in providers}
    versions: dict[str, str] = {}
    for top in sorted(wanted):
        for dist in _narrowed(providers.get(top, []), top, imports):
            version = _version(dist)
            if version and _normalized(dist) not in EXCLUDED_DISTRIBUTIONS:
                versions.setdefault(_normalized(dist), f"{dist}=={version}")
    return _as_text(versions)


def requirements_for_modules(modules: Iterable[str]) -> list[str]:
    """``name==version`` of the installed distributions providing ``modules`` (top-level
    names); a module nothing installed provides is left out.

    >>> requirements_for_modules(["pandas", "PIL"])  # doctest: +SKIP
    ['pandas==2.2.3', 'pillow==11.0.0']
    """
    providers = metadata.packages_distributions()
    lines: dict[str, str] = {}
    for top in sorted(set(modules)):
        for dist in sorted(set(providers.get(top, []))):
            version = _version(dist)
            if version and _normalized(dist) not in EXCLUDED_DISTRIBUTIONS:
                lines.setdefault(_normalized(dist), f"{dist}=={version}")
    return [lines[key] for key in sorted(lines)]


def merge_requirements(requirements: str, lines: Iterable[str]) -> str:
    """``requirements`` with the ``lines`` whose distributions it does not name yet added;
    sorted by name as ``capture_requirements`` writes them."""
    by_name: dict[str, str] = {}
    for line in [*requirements.splitlines(), *lines]:
        found = _REQUIREMENT_NAME.match(line)
        if found and not line.lstrip().startswith("#"):
            by_name.setdefault(_normalized(found.group(1)), line.strip())
    return _as_text(by_name)


def imported_modules(path: Path) -> set[str]:
    """The absolute module names a file imports anywhere (in functions and ``try`` blocks too)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _python_files(root: Path) -> Iterator[Path]:
    count = 0
    for visited, (folder, dirs, files) in enumerate(os.walk(root)):
        if visited >= MAX_FOLDERS:
            return
        dirs[:] = sorted(d for d in dirs if not _skipped(Path(folder, d)))
        for name in sorted(files):
            path = Path(folder, name)
            if name.endswith(".py") and _small(path):
                yield path
                count += 1
                if count >= MAX_FILES:
                    return


def _skipped(folder: Path) -> bool:
    name = folder.name
    return name.startswith(".") or name in SKIPPED_DIRS or (folder / "pyvenv.cfg").exists()


def _small(path: Path) -> bool:
    try:
        return path.stat().st_size <= MAX_FILE_BYTES
    except OSError:
        return False


def _local_module_names(files: Iterable[Path], root: Path) -> set[str]:
    """Names a file of the repository could be imported under: its stem and its folders."""
    local: set[str] = set()
    for file in files:
        local.add(file.stem)
        if file.is_relative_to(root):
            local.update(file.relative_to(root).parent.parts)
    return local


def _is_stdlib(module: str) -> bool:
    return module.partition(".")[0] in sys.stdlib_module_names


def _narrowed(dists: list[str], top: str, imports: set[str]) -> list[str]:
    """Several distributions share a namespace (``google``): keep those holding what is used."""
    unique = sorted(set(dists))
    if len(unique) < 2:
        return unique
    # "google.protobuf.message" -> "google/protobuf", a folder or a module of one distribution
    used = {"/".join(name.split(".")[:2]) for name in imports if name.startswith(top + ".")}
    holders = [d for d in unique if used and _ships_any(d, used)]
    return holders or unique


def _ships_any(dist: str, modules: set[str]) -> bool:
    prefixes = tuple(f"{module}{end}" for module in modules for end in ("/", "."))
    return any(f.as_posix().startswith(prefixes) for f in metadata.files(dist) or [])


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


def _installed_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and _normalized(name) not in EXCLUDED_DISTRIBUTIONS:
            # The first one found on sys.path is the one Python imports.
            versions.setdefault(_normalized(name), f"{name}=={dist.version}")
    return versions


def _line_name(line: str) -> str:
    found = _REQUIREMENT_NAME.match(line)
    return _normalized(found.group(1)) if found else ""


def _normalized(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _as_text(lines_by_name: Mapping[str, str]) -> str:
    return "".join(f"{lines_by_name[key]}\n" for key in sorted(lines_by_name))

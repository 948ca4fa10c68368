"""How an artifact object becomes one file to upload, and how that file becomes an object again.

``pack`` picks the format from what the object is, writes the file inside a working folder and
says what it wrote (type, format, a short preview); ``unpack`` reads it back::

    packed = pack({"lr": 0.1, "classes": ["cat", "dog"]}, workdir, "config")
    packed.path, packed.type, packed.format    # workdir/config.json, "dict", "json"
    unpack(packed.path, packed.type, packed.format)    # {"lr": 0.1, "classes": ["cat", "dog"]}

| object                         | type        | format                    |
|--------------------------------|-------------|---------------------------|
| dict / list                    | dict / list | json (pickle if JSON would not read back equal) |
| pandas DataFrame               | dataframe   | parquet (csv.gz without pyarrow)  |
| numpy ndarray                  | numpy       | npz                       |
| path of a file                 | file        | its suffix ("pt", "tar.gz", "" when none) |
| path of a folder               | folder      | zip                       |
| wildcard "folder/*.jpg"        | folder      | zip of the matching files (any depth) |
| PIL image                      | image       | png                       |
| anything else that pickles     | pickle      | pickle                    |

pandas, numpy and PIL are only imported for an object that is already one of theirs, so the SDK
stays cheap to import.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import re
import reprlib
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunelab.errors import InvalidInput

MAX_PREVIEW = 2000
PREVIEW_ROWS = 5
PREVIEW_NAMES = 20
# Suffixes that compress another format: "data.csv.gz" is "csv.gz", "model.pt" is "pt".
_COMPRESSION_SUFFIXES = frozenset({".gz", ".bz2", ".xz", ".zst", ".lz4", ".z"})
# Image modes the PNG writer keeps as they are; other modes (CMYK, F, ...) are pickled.
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "P", "RGB", "RGBA"})

_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist, _short.maxdict = 120, 200, 8, 8


@dataclass(frozen=True)
class Packed:
    """One file ready to upload, and what to record about it."""

    path: Path
    type: str
    format: str
    preview: str
    metadata: dict[str, str] = field(default_factory=dict)


def pack(obj: Any, workdir: Path, name: str) -> Packed:
    """Write ``obj`` as one file inside ``workdir`` (a file path is used as it is).

    >>> packed = pack(Path("weights.tar.gz"), Path("/tmp/upload"), "weights")  # doctest: +SKIP
    >>> packed.type, packed.format, packed.preview                             # doctest: +SKIP
    ('file', 'tar.gz', 'weights.tar.gz, 3.1 MB')

    A path that names nothing, or an object that cannot be pickled, raises ``InvalidInput``.
    """
    if isinstance(obj, str | os.PathLike):
        return _pack_path(obj, workdir, name)
    workdir.mkdir(parents=True, exist_ok=True)
    stem = safe_file_stem(name)
    if isinstance(obj, dict | list):
        return _pack_json(obj, workdir, stem, name)
    if _from_library(obj, "pandas") and _is_exact(obj, "pandas", "DataFrame"):
        return pack_dataframe(obj, workdir, name, parquet=_imports("pyarrow"))
    if _from_library(obj, "numpy") and _is_exact(obj, "numpy", "ndarray"):
        return _pack_numpy(obj, workdir, stem, name)
    if _from_library(obj, "PIL"):
        from PIL import Image

        if isinstance(obj, Image.Image):
            return _pack_image(obj, workdir, stem, name)
    return _pack_pickle(obj, workdir, stem, name, kind="pickle", preview="")


def unpack(path: Path, type: str, format: str, extract_to: Path | None = None) -> Any:
    """The object a file written by ``pack`` holds (a file artifact: its path).

    >>> unpack(Path("features.parquet"), "dataframe", "parquet")    # doctest: +SKIP
       loss  label
    0  0.31    cat

    A folder is extracted into ``extract_to`` (default: a folder beside the zip, named after
    it) and that folder is returned. A format this version does not know gives the path.
    Unpickling runs code from the file: get only artifacts whose source you trust.
    """
    if type == "file":
        return path
    if format == "json":
        return json.loads(path.read_text(encoding="utf-8"))
    if format == "pickle":
        with path.open("rb") as f:
            return pickle.load(f)
    if format == "parquet":
        return _require("pandas", type, format).read_parquet(path)
    if format == "csv.gz" and type == "dataframe":
        return _require("pandas", type, format).read_csv(path, index_col=0, compression="gzip")
    if format == "npz":
        numpy = _require("numpy", type, format)
        with numpy.load(path, allow_pickle=False) as arrays:
            return arrays["array"]
    if format == "png" and type == "image":
        image = _require("PIL.Image", type, format, package="pillow").open(path)
        image.load()  # read the pixels now, so the file is not held open
        return image
    if format == "zip" and type == "folder":
        return _extract(path, extract_to)
    return path


# What reading each format imports (module names), beside the pickled class's own library.
_READERS = {
    ("dataframe", "parquet"): ("pandas", "pyarrow"),
    ("dataframe", "csv.gz"): ("pandas",),
    ("numpy", "npz"): ("numpy",),
    ("image", "png"): ("PIL",),
}


def reader_modules(type: str, format: str, metadata: dict[str, Any] | None = None) -> set[str]:
    """The top-level modules ``unpack`` needs to read a file of ``type``/``format``.

    >>> sorted(reader_modules("dataframe", "parquet"))
    ['pandas', 'pyarrow']
    >>> sorted(reader_modules("pickle", "pickle", {"class": "sklearn.linear_model.Ridge"}))
    ['sklearn']
    """
    modules = set(_READERS.get((type, format), ()))
    if format == "pickle":
        # Unpickling imports the class's module: its library is needed too.
        top = str((metadata or {}).get("class") or "").partition(".")[0]
        if top and top not in sys.stdlib_module_names and top != "builtins":
            modules.add(top)
    return modules


def safe_file_stem(name: str) -> str:
    """``name`` as a file name part: letters, digits, ``.``, ``_`` and ``-`` only.

    >>> safe_file_stem("eval/top 5%")
    'eval_top_5_'
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip(".")[:120]
    return stem or "artifact"


def pack_dataframe(df: Any, workdir: Path, name: str, *, parquet: bool) -> Packed:
    """A DataFrame as parquet, or as gzipped CSV (index kept) when ``parquet`` is false.

    ``pack`` asks for parquet when pyarrow imports. A frame that the file format would change
    (non-text column names; for CSV also dates, categories or a multi-level index) is pickled.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    stem = safe_file_stem(name)
    rows, columns = df.shape
    preview = _clip(f"DataFrame shape=({rows}, {columns})\n{_frame_text(df)}")
    # Parquet and CSV write column names as text (so 0 would come back as "0"); CSV also
    # turns dates and categories into text. A pickle keeps such frames exactly.
    if not all(isinstance(column, str) for column in df.columns) or not (parquet or _csv_keeps(df)):
        return _pack_pickle(df, workdir, stem, name, kind="dataframe", preview=preview)
    if parquet:
        target = workdir / f"{stem}.parquet"
        try:
            df.to_parquet(target)
        except OSError:
            raise
        except Exception:  # pyarrow refuses some object columns (mixed types)
            target.unlink(missing_ok=True)
            return _pack_pickle(df, workdir, stem, name, kind="dataframe", preview=preview)
        return Packed(target, "dataframe", "parquet", preview, {"serialization": "parquet"})
    target = workdir / f"{stem}.csv.gz"
    df.to_csv(target, compression="gzip")
    return Packed(target, "dataframe", "csv.gz", preview, {"serialization": "csv"})


def _csv_keeps(df: Any) -> bool:
    """Whether CSV reads the frame back equal: one index level, numbers, booleans and text."""
    dtypes = [df.index.dtype, *df.dtypes]
    return df.index.nlevels == 1 and all(
        t.kind in "biuf" or str(t) in ("object", "str", "string") for t in dtypes
    )


# --- files and folders ----------------------------------------------------------------------


def _pack_path(obj: str | os.PathLike[Any], workdir: Path, name: str) -> Packed:
    text = os.fsdecode(obj)
    # Path("") is ".": an empty string would upload the working directory.
    path = Path(text).absolute() if text else None
    if path is not None and path.is_file():
        size = path.stat().st_size
        return Packed(path, "file", _file_format(path), f"{path.name}, {_size_text(size)}", {})
    if path is not None and path.is_dir():
        workdir.mkdir(parents=True, exist_ok=True)
        return _pack_folder(path, workdir, safe_file_stem(name))
    if _is_wildcard(text):
        workdir.mkdir(parents=True, exist_ok=True)
        return _pack_matches(text, workdir, name)
    raise InvalidInput(
        f"Cannot upload artifact {name!r}: no file or folder exists at {text!r}.",
        {"name": name, "path": text},
    )


def _file_format(path: Path) -> str:
    """The suffix without its dot, compressed ones whole: ``"tar.gz"``, ``"pt"``, ``""``."""
    suffixes = path.suffixes
    if not suffixes:
        return ""
    last = suffixes[-1].lower()
    if last in _COMPRESSION_SUFFIXES and len(suffixes) > 1:
        inner = suffixes[-2].lower()
        if inner[1:].isalnum() and len(inner) <= 6:
            return (inner + last)[1:]
    return last[1:]


def _is_wildcard(text: str) -> bool:
    return any(c in text for c in "*?[")


def _pack_matches(text: str, workdir: Path, name: str) -> Packed:
    """``"folder/*.jpg"``: the files under ``folder`` (at any depth, as ClearML matches them)
    whose names match the last part, zipped with their paths inside the folder."""
    folder_text, _, pattern = text.replace(os.sep, "/").rpartition("/")
    folder = Path(folder_text or ".").absolute()
    if _is_wildcard(folder_text) or not folder.is_dir() or not pattern:
        raise InvalidInput(
            f"Cannot upload artifact {name!r}: {text!r} is a wildcard only in its last part, "
            'under a folder that exists ("folder/*.jpg").',
            {"name": name, "path": text},
        )
    files = sorted(p for p in folder.rglob(pattern) if p.is_file())
    if not files:
        raise InvalidInput(
            f"Cannot upload artifact {name!r}: no file matches {text!r}.",
            {"name": name, "path": text},
        )
    return _zip_files(folder, files, [], workdir / f"{safe_file_stem(name)}.zip", text)


def _pack_folder(folder: Path, workdir: Path, stem: str) -> Packed:
    target = workdir / f"{stem}.zip"
    files: list[Path] = []
    empty: list[Path] = []
    target.touch()  # the zip may be inside the folder it zips: its folder is not empty
    written = target.resolve()
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        base = Path(root)
        if not dirs and not names and base != folder:
            empty.append(base)
        for file in sorted(names):
            path = base / file
            if path.is_file() and path.resolve() != written:
                files.append(path)  # not broken links, sockets, the zip itself
    return _zip_files(folder, files, empty, target, f"folder {folder.name}")


def _zip_files(
    folder: Path, files: list[Path], empty: list[Path], target: Path, label: str
) -> Packed:
    names: list[str] = []
    total = 0
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as zf:
        for path in empty:
            zf.write(path, path.relative_to(folder).as_posix() + "/")  # keep empty folders
        for path in files:
            relative = path.relative_to(folder).as_posix()
            zf.write(path, relative)
            names.append(relative)
            total += path.stat().st_size
    listing = "\n".join(names[:PREVIEW_NAMES]) + ("\n..." if len(names) > PREVIEW_NAMES else "")
    summary = f"{label}: {_count(len(names), 'file')}, {_size_text(total)}"
    preview = _clip(f"{summary}\n{listing}")
    return Packed(target, "folder", "zip", preview, {"files": str(len(names))})


def _extract(path: Path, extract_to: Path | None) -> Path:
    if extract_to is None:
        extract_to = (
            path.with_suffix("") if path.suffix == ".zip" else path.with_name(path.name + ".d")
        )
    extract_to.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path) as zf:
        zf.extractall(extract_to)  # zipfile drops ".." and absolute parts of member names
    return extract_to


# --- objects --------------------------------------------------------------------------------


def _pack_json(obj: dict[Any, Any] | list[Any], workdir: Path, stem: str, name: str) -> Packed:
    kind = "dict" if isinstance(obj, dict) else "list"
    try:
        text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False)
        # JSON turns int keys into strings and tuples into lists: pickle those, so that
        # get() gives back what was uploaded.
        faithful = json.loads(text) == obj
    except (TypeError, ValueError, RecursionError):
        faithful = False
    if not faithful:
        return _pack_pickle(obj, workdir, stem, name, kind=kind, preview=_container_text(obj))
    target = workdir / f"{stem}.json"
    target.write_text(text, encoding="utf-8")
    summary = _container_text(obj, f"{_size_text(target.stat().st_size)} as JSON")
    return Packed(target, kind, "json", _clip(f"{summary}\n\n{text}"), {})


def _container_text(obj: dict[Any, Any] | list[Any], size: str = "") -> str:
    suffix = f", {size}" if size else ""
    if isinstance(obj, dict):
        keys = ", ".join(k if isinstance(k, str) else repr(k) for k in list(obj)[:50])
        more = ", ..." if len(obj) > 50 else ""
        return f"dict, {_count(len(obj), 'key')}{suffix}\nkeys: {keys}{more}"
    first = ", ".join(_short.repr(item) for item in obj[:PREVIEW_ROWS])
    more = ", ..." if len(obj) > PREVIEW_ROWS else ""
    return f"list, {_count(len(obj), 'item')}{suffix}\nfirst items: [{first}{more}]"


def _pack_numpy(array: Any, workdir: Path, stem: str, name: str) -> Packed:
    import numpy

    header = f"shape={array.shape} dtype={array.dtype}"
    values = numpy.array2string(array, threshold=50, edgeitems=3, max_line_width=100)
    preview = _clip(f"{header}\n{values}")
    if array.dtype.hasobject:
        # An .npz of objects holds pickles that numpy.load refuses by default: say "pickle".
        return _pack_pickle(array, workdir, stem, name, kind="numpy", preview=preview)
    target = workdir / f"{stem}.npz"
    numpy.savez_compressed(target, array=array)
    meta = {"shape": str(array.shape), "dtype": str(array.dtype)}
    return Packed(target, "numpy", "npz", preview, meta)


def _pack_image(image: Any, workdir: Path, stem: str, name: str) -> Packed:
    preview = f"image {image.width}x{image.height}, mode {image.mode}"
    if image.mode not in _PNG_MODES:
        return _pack_pickle(image, workdir, stem, name, kind="image", preview=preview)
    target = workdir / f"{stem}.png"
    image.save(target, format="PNG")
    meta = {"width": str(image.width), "height": str(image.height), "mode": str(image.mode)}
    return Packed(target, "image", "png", preview, meta)


def _pack_pickle(
    obj: Any, workdir: Path, stem: str, name: str, *, kind: str, preview: str
) -> Packed:
    target = workdir / f"{stem}.pkl"
    cls = type(obj)
    class_name = f"{cls.__module__}.{cls.__qualname__}"
    try:
        with target.open("wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError:
        target.unlink(missing_ok=True)
        raise
    except Exception as exc:  # a custom __reduce__ may raise anything
        target.unlink(missing_ok=True)
        raise InvalidInput(
            f"Cannot upload artifact {name!r}: a {class_name} object cannot be pickled ({exc}).",
            {"name": name, "class": class_name},
        ) from exc
    size = _size_text(target.stat().st_size)
    if not preview:
        try:
            preview = f"{class_name} object, {size} as pickle\n{_short.repr(obj)}"
        except Exception:  # a broken __repr__ must not stop the upload
            preview = f"{class_name} object, {size} as pickle"
    meta = {"serialization": "pickle", "class": class_name}
    return Packed(target, kind, "pickle", _clip(preview), meta)


# --- detection and text ---------------------------------------------------------------------


def _from_library(obj: Any, library: str) -> bool:
    """Whether ``obj``'s class comes from ``library``, without importing it."""
    if library not in sys.modules:
        return False  # an object of a library's class implies that library is loaded
    return any(
        str(getattr(cls, "__module__", "")).partition(".")[0] == library
        for cls in type(obj).__mro__
    )


def _is_exact(obj: Any, module: str, name: str) -> bool:
    # Subclasses (GeoDataFrame, masked arrays) carry more than the plain format keeps.
    return type(obj) is getattr(sys.modules[module], name, None)


def _imports(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _require(module: str, type: str, format: str, package: str | None = None) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = package or module.partition(".")[0]
        raise ImportError(
            f"Reading a {type} artifact stored as {format} needs {package} "
            f"(pip install {package}): {exc}"
        ) from exc


def _frame_text(df: Any) -> str:
    text: str = df.head(PREVIEW_ROWS).to_string(max_cols=12, max_colwidth=30)
    return text


def _size_text(size: int) -> str:
    """A byte count for people: ``"812 bytes"``, ``"3.1 MB"``."""
    if size < 1000:
        return f"{size} bytes"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_PREVIEW else text[: MAX_PREVIEW - 4] + "\n..."

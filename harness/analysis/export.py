"""Write an analysis frame to a file: CSV, JSON Lines or Parquet.

    python -m harness export RUN_DIR... --format csv|parquet|jsonl --output FILE

JSONL keeps lists and dicts as JSON values. CSV and Parquet cells are flat, so the columns that
hold dicts or mixed values (``prompt``, ``extra``) become JSON text; list columns (``tags``,
``gold_passages``, ``retrieved``) stay lists in Parquet and become JSON text in CSV. Times are
ISO 8601 text in CSV and JSONL, timestamps in Parquet; NA is an empty CSV cell, ``null`` in JSONL. Parquet needs ``pyarrow``
(``pip install 'raq-harness[parquet]'``); it is not a dependency of the harness itself.
The file is written to a temporary name beside ``path`` and renamed, so it is always whole.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.api.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("csv", "jsonl", "parquet")
JSON_TEXT_COLUMNS = ("prompt", "extra")  # dicts / mixed str-or-list: JSON text in CSV and Parquet
PARQUET_EXTRA = "pip install 'raq-harness[parquet]' (pyarrow)"


def format_for(path: Path, given: str | None) -> str:
    """``given``, else the format named by ``path``'s extension."""
    if given is not None:
        return given
    suffix = path.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    raise ConfigError(f"--output {path}: cannot tell the format from the extension {path.suffix or '(none)'!r}; pass --format {'|'.join(FORMATS)}")


def _json_text(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _records(frame: pd.DataFrame) -> str:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return "".join(json.dumps(row, ensure_ascii=False, default=_jsonable) + "\n" for row in rows)


def _flat(frame: pd.DataFrame, lists_as_text: bool) -> pd.DataFrame:
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        if lists_as_text and isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].map(lambda t: None if pd.isna(t) else t.isoformat()).astype("string")
        if out[column].dtype != object:
            continue
        values = out[column].dropna()
        nested = column in JSON_TEXT_COLUMNS or (lists_as_text and values.map(lambda v: isinstance(v, (list, tuple, dict))).any())
        if nested:
            out[column] = out[column].map(_json_text).astype("string")
    return out


def check_format(fmt: str) -> None:
    """Refuse an unknown format, or parquet without pyarrow, before any run is read."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401 - only checks that the optional extra is installed
        except ImportError:
            raise ConfigError(f"--format parquet: needs pyarrow, which is not installed; {PARQUET_EXTRA}, or use --format csv or jsonl") from None


def write_frame(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    """Write ``frame`` to ``path`` as ``fmt`` (one of :data:`FORMATS`); returns ``path``."""
    check_format(fmt)
    path = Path(path)
    if path.is_dir():
        raise DataError(f"--output {path}: is a folder; pass a file name such as {path / ('samples.' + fmt)}")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            _flat(frame, lists_as_text=True).to_csv(tmp, index=False, lineterminator="\n")
        elif fmt == "jsonl":
            tmp.write_text(_records(frame), encoding="utf-8")
        else:
            _flat(frame, lists_as_text=False).to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except OSError as exc:
        raise DataError(f"--output {path}: cannot write ({exc.strerror or exc}); pass --output in a writable folder") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path

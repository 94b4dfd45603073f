"""Numbered lines of a JSONL input file, for readers that report problems as ``FILE:LINE``.

Lines end at ``\\n`` only (a trailing ``\\r`` is dropped), never at the other characters that
:meth:`str.splitlines` treats as line breaks (``\\x1c``, ``\\u2028``...), which may sit inside a
JSON string and would shift every line number after them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator

from harness.api.errors import DataError


def numbered_lines(path: Path, missing: str) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for each non-blank line; ``missing`` is the fix named when the
    file does not exist. ``-`` reads standard input. Raises :class:`DataError` for a missing or non-UTF-8 file."""
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else Path(path).read_bytes()
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; {missing}") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a file; {missing}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 (byte {exc.start}); re-save the file as UTF-8") from None
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.strip():
            yield number, line


def parse_json_line(line: str, where: str) -> Any:
    """The JSON value on one line, or :class:`DataError` ``FILE:LINE: json: ...``."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: json: {exc.msg} at column {exc.colno}; each line must be one JSON object") from None

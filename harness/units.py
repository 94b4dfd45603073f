"""The project's pint unit registry and the two conversions everything shares.

* :func:`parse_unit` turns a unit string as written in items or answers (``MT/s``, ``GB/s``,
  ``Gbps``, ``mA/V``, ``µs``, ``dimensionless``, ``dB``, ``%``) into a pint unit.
* :func:`evaluate_solution` evaluates a benchmark item's ``solution`` -- a dependency-free
  arithmetic expression over quantities with units -- with a whitelist AST walker (no ``eval``).

Domain conventions (edge cases):

* ``T`` before ``/s`` means transfers (``MT/s``, ``GT/s``), never tesla; ``transfer`` is its own
  dimension, so ``MT/s * 8 B/transfer`` is a data rate.
* ``b`` after an SI prefix means bit (``Gb``, ``Mb``), never barn; ``B`` is byte. ``bps`` = bit/s.
  ``bit`` is its own dimension ``[information]`` (pint's default makes it dimensionless, which
  would let ``Gbit/s`` convert to ``GHz`` and a bare number to ``GB``).
* ``mA/V`` is a conductance and converts to ``mS``.
* ``dB`` is compared as a plain number (the item's expected value is already in dB).
* ``°C``/``degC``/``K``: temperatures; offset conversion is done by pint.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import re
from typing import Any, Callable

from harness.api.errors import DataError

_PREFIX = r"(?:[YZEPTGMkhdcmunpfazy]|µ|μ|da|Ki|Mi|Gi|Ti)?"

#: Unit spellings that are numbers compared as-is rather than pint units.
PLAIN_NUMBER_UNITS = {"dimensionless", "", "1", "db", "decibel", "decibels", "x", "times"}


def _default_definitions() -> list[str]:
    """pint's own definition file with ``bit`` as a base dimension ``[information]`` (pint makes it
    dimensionless). Done at load time so prefixed forms (``Gbit``), ``byte`` and ``baud`` all agree;
    redefining ``bit`` afterwards leaves pint's cached plain ``bit`` dimensionless."""
    from importlib import resources

    folder = resources.files("pint")
    lines: list[str] = []
    for line in (folder / "default_en.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() == "@import constants_en.txt":
            lines.extend((folder / "constants_en.txt").read_text(encoding="utf-8").splitlines())
        elif line.strip() == "bit = []":
            lines.append("bit = [information]")
        else:
            lines.append(line)
    return lines


@functools.lru_cache(maxsize=1)
def registry() -> Any:
    """The shared :class:`pint.UnitRegistry` with the domain's extra units."""
    import pint

    ureg: pint.UnitRegistry[Any] = pint.UnitRegistry(_default_definitions(), autoconvert_offset_to_baseunit=True, on_redefinition="ignore")
    ureg.define("transfer = [transfer] = xfer")
    ureg.define("clock_cycle = [clock_cycle] = cycle = clk = nCK = tCK_count")
    ureg.define("refresh_command = [refresh_command]")
    ureg.define("row_activation = [row_activation]")
    ureg.define("decade = 1 = dec")  # mV/decade: a subthreshold slope is a voltage per decade of current
    return ureg


def normalize_unit_text(text: str) -> str:
    """Rewrite domain spellings into names pint resolves unambiguously.

    >>> normalize_unit_text("MT/s"), normalize_unit_text("Gbps"), normalize_unit_text("mA/V")
    ('megatransfer/s', 'gigabit/s', 'mA/V')
    """
    s = text.strip()
    s = s.replace("µ", "u").replace("μ", "u").replace("Ω", "ohm").replace("°C", "degC").replace("°F", "degF")
    s = s.replace("−", "-").replace("·", "*").replace("×", "*")
    s = re.sub(r"\bohms?\b", "ohm", s)
    prefixes = {"k": "kilo", "M": "mega", "G": "giga", "T": "tera", "": ""}
    s = re.sub(r"\b([kMGT]?)T/s\b", lambda m: f"{prefixes[m.group(1)]}transfer/s", s)
    s = re.sub(r"\b([kMGT]?)bps\b", lambda m: f"{prefixes[m.group(1)]}bit/s", s)
    s = re.sub(r"\b([kMGT]?)Bps\b", lambda m: f"{prefixes[m.group(1)]}byte/s", s)
    s = re.sub(r"\b([kMGT])b\b", lambda m: f"{prefixes[m.group(1)]}bit", s)
    s = re.sub(r"\b([kMGT]i?)bit\b", lambda m: f"{m.group(1)}bit", s)
    s = re.sub(r"\b([KMGT]i)B\b", lambda m: f"{m.group(1)}B", s)
    return s


@functools.lru_cache(maxsize=512)
def parse_unit(text: str) -> Any:
    """Return the pint unit for ``text``; raise :class:`DataError` if pint cannot parse it.

    ``dimensionless``, ``dB`` and the empty string give pint's dimensionless unit.
    """
    ureg = registry()
    if text.strip().lower() in PLAIN_NUMBER_UNITS:
        return ureg.dimensionless
    try:
        unit = ureg.parse_units(normalize_unit_text(text))
    except Exception as exc:  # pint raises several unrelated types for bad input
        raise DataError(f"cannot parse unit {text!r} ({type(exc).__name__}); use a pint unit such as 'ns', 'GB/s', 'mS' or 'dimensionless'") from None
    return unit


def is_plain_number_unit(text: str) -> bool:
    return text.strip().lower() in PLAIN_NUMBER_UNITS


_FUNCS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "log10": math.log10,
    "log2": math.log2,
    "ln": math.log,
    "exp": math.exp,
    "ceil": math.ceil,
    "floor": math.floor,
    "round": round,
    "min": min,
    "max": max,
    "abs": abs,
}
_CONSTANTS = {"pi": math.pi, "e_const": math.e}
_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.FloorDiv: operator.floordiv,
}


def _magnitude_if_dimensionless(value: Any) -> Any:
    if hasattr(value, "dimensionless") and value.dimensionless:
        return value.to("dimensionless").magnitude
    return value


def evaluate_solution(expr: str) -> Any:
    """Evaluate a solution expression to a pint Quantity (or float).

    Grammar: numbers, unit names (``ns``, ``megatransfer``, ``byte``, ``volt``, ``mS``...), the
    operators ``+ - * / ** //``, parentheses and the functions ``sqrt log10 log2 ln exp ceil floor
    round min max abs`` (math functions get plain numbers; a dimensionless quantity is converted
    first). ``pi`` is a constant. Anything else raises :class:`DataError`.

    >>> evaluate_solution("6400 * megatransfer / second * 8 * byte / transfer").to("GB/s").magnitude
    51.2
    """
    ureg = registry()
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise DataError(f"solution {expr!r}: syntax error at column {exc.offset}; write a plain arithmetic expression") from None

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Name):
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            try:
                return ureg.Quantity(1, normalize_unit_text(node.id))
            except Exception:
                raise DataError(f"solution {expr!r}: unknown name {node.id!r}; use a pint unit name or one of {sorted(_CONSTANTS)}") from None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords:
            args = [_magnitude_if_dimensionless(walk(a)) for a in node.args]
            return _FUNCS[node.func.id](*args)
        raise DataError(f"solution {expr!r}: unsupported syntax {type(node).__name__}; allowed: numbers, unit names, + - * / **, {', '.join(sorted(_FUNCS))}")

    try:
        return walk(tree)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"solution {expr!r}: cannot evaluate ({type(exc).__name__}: {exc})") from None


def solution_value(expr: str, unit: str) -> float:
    """Evaluate ``expr`` and express it in ``unit`` (an item's answer unit); plain-number units
    (``dimensionless``, ``dB``) require a dimensionless result."""
    value = evaluate_solution(expr)
    if not hasattr(value, "to"):
        return float(value)
    target = parse_unit(unit)
    try:
        return float(value.to(target).magnitude)
    except Exception:
        raise DataError(f"solution {expr!r} has units {value.units} which do not convert to {unit!r}") from None

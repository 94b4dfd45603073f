"""Build the multiple-choice options (``choices``) of the RAQ benchmark's numeric and text items.

    python scripts/make_choices.py                 # rewrites benchmarks/raq/{items,dev}.jsonl in place
    python scripts/make_choices.py --check         # exit 1 when the files differ from what it would write
    python -m harness validate benchmarks/raq/items.jsonl

Deterministic: the same items always give the same choices in the same order. Numeric distractors
come from the key by the mistakes this domain is known for, each labelled with its error type
(:data:`harness.api.items.ERROR_TYPES`), tried in this order until an item has
``MAX_DISTRACTORS``:

1. ``ddr4-value`` -- the DDR4 value of a DDR5 fact, from :data:`DDR4_VALUES` (items where a
   DDR4 counterpart exists);
2. ``ns-cycles`` -- where the question gives tCK, the clock or a DDR5-NNNN rate and talks about
   clocks: a cycle count given as the nanoseconds it lasts, or a time given as its cycle count;
3. ``bits-bytes`` (x8, /8) for byte and bit units; ``subchannel-dimm`` (x2, /2) for DDR5
   bandwidths and capacities of a subchannel, module or channel; ``clock-data-rate`` (x2, /2) for
   frequencies, data rates and DDR5 times;
4. ``off-by-one`` (+-1) for integer counts; ``percent-fraction`` (/100, x100) for percentages;
   ``db-factor`` (x2, /2) for decibels;
5. ``si-prefix`` (x1000, /1000) and ``wrong-unit`` (same number, a sibling unit from
   :data:`WRONG_UNIT`) for quantities with units;
6. ``factor-two`` (x2, /2) and ``decimal-slip`` (x10, /10) for whatever is left.

Integer counts stay integers. A candidate is dropped when the numeric grader would accept it as
the key (within the item's ``rel_tol``) or when it repeats an earlier choice's text or value.
Text items get the distractors written for each of them in :data:`TEXT_DISTRACTORS` (plausible
wrong terms of the same kind, error type ``confusable-term``); each is checked against the text
grader the same way. Choices are shuffled by a hash of the item id and text, so the key's
position carries no information.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.api.items import Choice, Item, parse_item, quantity_text  # noqa: E402
from harness.benchmark import BENCHMARKS_DIR, load_config  # noqa: E402

FILES = (BENCHMARKS_DIR / "raq" / "items.jsonl", BENCHMARKS_DIR / "raq" / "dev.jsonl")
MAX_DISTRACTORS = 5  # per item: six options at most, so chance is >= 1/6
MIN_SIGNIFICANT = 4  # distractors keep at least this many significant digits (179.2, not 179)

#: DDR4 counterparts of DDR5 facts (JESD79-4): item id -> (value in the item's unit, what it is).
DDR4_VALUES: dict[str, tuple[float, str]] = {
    "ddr5-a-001": (4, "16 Gb x8 DDR4 has 4 bank groups"),
    "ddr5-a-002": (8, "16 Gb x16 DDR4 has 2 bank groups of 4 banks"),
    "ddr5-a-005": (1.2, "DDR4 VDD is 1.2 V"),
    "ddr5-a-006": (2.5, "DDR4 VPP is 2.5 V"),
    "ddr5-a-009": (7.8, "DDR4 tREFI is 7.8 us up to 85 C"),
    "ddr5-a-010": (3.9, "DDR4 tREFI is 3.9 us above 85 C"),
    "ddr5-a-011": (550, "DDR4 16 Gb tRFC1 is 550 ns"),
    "ddr5-a-015": (72, "a DDR4 ECC channel is 72 bits wide"),
    "ddr5-a-016": (3200, "DDR4's speed bins end at 3200 MT/s"),
    "ddr5-a-019": (8, "DDR4 is an 8n-prefetch architecture"),
    "ddr5-a-021": (64, "DDR4's refresh window is 64 ms"),
    "ddr5-a-026": (4, "DDR4 tCCD_S is 4 clocks"),
    "ddr5-r-033": (0.909, "a DDR4 burst is BL8: half as long"),
    "ddr5-a-103": (15, "DDR4 tWR is 15 ns"),
    "ddr5-a-101": (3.9, "DDR5's tREFI (this item asks for DDR4's 7.8 us)"),
}

#: A sibling unit for ``wrong-unit``: same number, the unit a hurried answer writes.
WRONG_UNIT = {
    "GB/s": "Gb/s",
    "GB": "Gb",
    "byte": "bit",
    "pJ/bit": "pJ/byte",
    "MT/s": "MHz",
    "MHz": "MT/s",
    "GHz": "MHz",
    "kHz": "MHz",
    "ns": "ps",
    "ps": "ns",
    "us": "ms",
    "ms": "us",
    "mV": "V",
    "V": "mV",
    "kV": "V",
    "uV": "mV",
    "A": "mA",
    "mA": "uA",
    "uA": "mA",
    "mS": "uS",
    "uS": "mS",
    "ohm": "kohm",
    "kohm": "ohm",
    "Mohm": "kohm",
    "nm": "um",
    "um": "nm",
    "pF": "fF",
    "nF": "pF",
    "fJ": "pJ",
    "uJ": "mJ",
    "mW": "W",
    "W": "mW",
    "hour": "day",
    "h": "day",
    "day": "hour",
    "cm/s": "m/s",
    "nm**2": "um**2",
    "uohm*cm": "mohm*cm",
    "mV/decade": "V/decade",
    "mV/K": "V/K",
}
PLAIN_UNITS = {"dimensionless", "%", "dB", "1/V", "1/s"}  # no SI-prefix slip or wrong-unit sibling

#: Written per item: plausible wrong terms of the same kind as the key.
TEXT_DISTRACTORS: dict[str, list[str]] = {
    "ddr5-a-020": ["REFab", "RFM", "self refresh"],
    "ddr5-a-024": ["8F2", "4F2", "12F2"],
    "ddr5-a-027": ["VDD/4", "VDD/3", "VDD"],
    "ckt-a-007": ["R-2R ladder", "binary-weighted resistor DAC", "current-steering DAC"],
    "ckt-a-008": ["velocity saturation", "hot-carrier injection", "gate-induced drain leakage"],
    "ckt-a-016": ["series-shunt", "shunt-series", "series-series"],
    "ckt-a-022": ["pass transistor", "tristate buffer", "bootstrapped switch"],
    "ckt-a-026": ["non-monotonicity", "offset error", "gain error"],
    "ckt-a-028": ["subthreshold leakage", "junction leakage", "GIDL"],
    "ckt-a-035": ["flash", "pipelined", "dual-slope integrating"],
    "ckt-a-037": ["Early effect", "body effect", "bootstrapping"],
    "ckt-a-038": ["clock buffer", "retention flip-flop", "level shifter"],
    "ckt-a-039": ["footer switch", "isolation cell", "retention register"],
    "phy-a-008": ["NMOS", "BJT", "JFET"],
    "phy-a-009": ["Zener diode", "parasitic MOSFET", "Schottky diode"],
    "phy-a-010": ["LEF", "DEF", "CIF"],
    "phy-a-011": ["SDF", "LEF", "Liberty"],
    "phy-a-012": ["Al2O3", "Si3N4", "ZrO2"],
    "phy-a-019": ["LOCOS", "deep trench isolation", "silicon on insulator"],
    "phy-a-020": ["doubles", "halves", "quadruples"],
    "phy-a-022": ["IEEE 1500", "IEEE 1687", "IEEE 1801"],
    "phy-a-027": ["CoSi2", "TiSi2", "WSi2"],
    "ddr5-a-102": ["read SNM", "write margin", "write SNM"],
    "phy-a-103": ["SPEF", "UPF", "Liberty"],
}

Candidate = tuple[float, str, str]  # (value, unit, error type)
_CLOCK_WORDS = re.compile(r"\bclocks?\b|\bcycles?\b|\bCL\b|\bnCK\b|CAS latency", re.IGNORECASE)


def significant(value: float, digits: int) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def key_digits(value: float) -> int:
    mantissa = f"{abs(value):.10g}".split("e")[0].replace(".", "").lstrip("0")
    return max(1, len(mantissa))


def clock_period_ns(question: str) -> float | None:
    """tCK in ns from the question: ``tCK = 357 ps``, ``clock 2400 MHz`` / ``2600 MHz clock``, or ``DDR5-4800``."""
    match = re.search(r"tCK[^0-9]{0,24}([\d.]+)\s*(ps|ns)", question)
    if match:
        return float(match.group(1)) / (1000 if match.group(2) == "ps" else 1)
    match = re.search(r"clock\s*(?:of\s*)?([\d.]+)\s*MHz|([\d.]+)\s*MHz clock", question)
    if match:
        return 1000 / float(match.group(1) or match.group(2))
    match = re.search(r"DDR5-(\d{4})", question)
    return 2000 / float(match.group(1)) if match else None


def _ddr4(item: Item) -> list[Candidate]:
    found = DDR4_VALUES.get(item.id)
    return [(found[0], item.answer.unit or "dimensionless", "ddr4-value")] if found else []


def _ns_cycles(item: Item) -> list[Candidate]:
    tck = clock_period_ns(item.question)
    unit = item.answer.unit or "dimensionless"
    value = float(item.answer.value or 0.0)
    if tck is None or not item.id.startswith("ddr5") or not _CLOCK_WORDS.search(item.question):
        return []
    if unit == "dimensionless":
        return [(value * tck, unit, "ns-cycles")]  # the cycle count as the nanoseconds it lasts
    if unit in ("ns", "ps"):
        cycles = (value / 1000 if unit == "ps" else value) / tck
        return [(float(round(cycles)), unit, "ns-cycles")]  # the time's cycle count written in the time unit
    return []


def _scaled(error: str, factors: tuple[float, ...], when: Callable[[Item], bool]) -> Callable[[Item], list[Candidate]]:
    def rule(item: Item) -> list[Candidate]:
        if not when(item):
            return []
        unit = item.answer.unit or "dimensionless"
        return [(float(item.answer.value or 0.0) * f, unit, error) for f in factors]

    return rule


def _unit(item: Item) -> str:
    return item.answer.unit or "dimensionless"


def _integer_count(item: Item) -> bool:
    return _unit(item) == "dimensionless" and float(item.answer.value or 0.0).is_integer()


def _off_by_one(item: Item) -> list[Candidate]:
    value = float(item.answer.value or 0.0)
    return [(value - 1, "dimensionless", "off-by-one"), (value + 1, "dimensionless", "off-by-one")] if _integer_count(item) else []


def _wrong_unit(item: Item) -> list[Candidate]:
    sibling = WRONG_UNIT.get(_unit(item))
    return [(float(item.answer.value or 0.0), sibling, "wrong-unit")] if sibling else []


RULES: list[Callable[[Item], list[Candidate]]] = [
    _ddr4,
    _ns_cycles,
    _scaled("bits-bytes", (8, 1 / 8), lambda it: bool(re.search(r"(?:^|[^d])B|byte|bit", _unit(it)))),  # GB/s, byte, pJ/bit; not dB
    _scaled(
        "subchannel-dimm",
        (2, 1 / 2),
        lambda it: it.id.startswith("ddr5") and _unit(it) in ("GB/s", "GB") and bool(re.search(r"subchannel|DIMM|module|half|channel", it.question)),
    ),
    _scaled("clock-data-rate", (2, 1 / 2), lambda it: _unit(it) in ("MHz", "GHz", "MT/s") or (it.id.startswith("ddr5") and _unit(it) in ("ns", "ps"))),
    _off_by_one,
    _scaled("percent-fraction", (1 / 100, 100), lambda it: _unit(it) == "%"),
    _scaled("db-factor", (2, 1 / 2), lambda it: _unit(it) == "dB"),
    _scaled("si-prefix", (1000, 1 / 1000), lambda it: _unit(it) not in PLAIN_UNITS),
    _wrong_unit,
    _scaled("factor-two", (2, 1 / 2), lambda it: True),
    _scaled("decimal-slip", (10, 1 / 10), lambda it: True),
]


def numeric_distractors(item: Item, rel_tol: float, generation_pattern: str | None) -> list[Choice]:
    from harness.scoring.numeric import grade_numeric

    key_value = float(item.answer.value or 0.0)
    digits = max(MIN_SIGNIFICANT, key_digits(key_value))
    chosen: list[Choice] = []
    seen_texts = {quantity_text(key_value, item.answer.unit).lower()}
    seen_values: list[tuple[float, str]] = [(key_value, _unit(item))]
    for rule in RULES:
        for value, unit, error in rule(item):
            if len(chosen) >= MAX_DISTRACTORS:
                return chosen
            value = float(round(value)) if _integer_count(item) and unit == "dimensionless" else significant(value, digits)
            text = quantity_text(value, unit)
            if text.lower() in seen_texts or any(u == unit and abs(value - v) <= rel_tol * max(abs(v), 1e-300) for v, u in seen_values):
                continue
            if grade_numeric(item.question, text, key_value, _unit(item), rel_tol, generation_pattern).correct:
                continue  # the grader would take it for the key
            seen_texts.add(text.lower())
            seen_values.append((value, unit))
            chosen.append(Choice(text, False, error))
    return chosen


def text_distractors(item: Item) -> list[Choice]:
    from harness.scoring.text import grade_text

    out = []
    for text in TEXT_DISTRACTORS.get(item.id, []):
        if grade_text(text, item.answer.accept).correct:
            raise SystemExit(f"{item.id}: distractor {text!r} grades as an accepted variant; write another one")
        out.append(Choice(text, False, "confusable-term"))
    return out


def choices_for(item: Item, rel_tol: float, generation_pattern: str | None) -> list[Choice]:
    """The key plus its distractors, shuffled by a hash of the item id and each text; empty for
    key-point and refusal items and for text items without written distractors."""
    if item.answer.type == "numeric":
        distractors = numeric_distractors(item, item.answer.rel_tol or rel_tol, generation_pattern)
    elif item.answer.type == "text":
        distractors = text_distractors(item)
    else:
        return []
    if not distractors:
        return []
    key = Choice(item.answer.stated() or "", True)
    return sorted([key, *distractors], key=lambda c: hashlib.sha256(f"{item.id}\0{c.text}".encode()).hexdigest())


def rewrite(path: Path) -> tuple[str, Counter[str]]:
    """The file's new text and the count of distractors per error type."""
    config = load_config(path.parent / "benchmark.toml")
    lines, counts = [], Counter[str]()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        obj: dict[str, Any] = json.loads(line)
        obj.pop("choices", None)
        item = parse_item(obj, f"{path}:{number}")
        choices = choices_for(item, config.default_rel_tol, config.generation_pattern)
        if choices:
            obj["choices"] = [c.to_dict() for c in choices]
            counts.update(c.error for c in choices if c.error)
        lines.append(json.dumps(obj, ensure_ascii=False))
    return "\n".join(lines) + "\n", counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only compare: exit 1 when a file would change")
    args = parser.parse_args(argv)
    stale = []
    for path in FILES:
        text, counts = rewrite(path)
        if args.check:
            if text != path.read_text(encoding="utf-8"):
                stale.append(str(path))
            continue
        path.write_text(text, encoding="utf-8")
        print(f"{path}: " + ", ".join(f"{error} {n}" for error, n in counts.most_common()))
    if stale:
        print(f"choices out of date in {', '.join(stale)}; run python scripts/make_choices.py")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

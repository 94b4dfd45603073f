"""Read and validate benchmark files (``items.jsonl`` beside a ``benchmark.toml``).

``benchmark.toml`` keys (unknown keys are errors)::

    name = "raq"                     # benchmark name, recorded in run.json
    version = "1.0.0"                # bump on any change to items
    default_rel_tol = 0.02           # relative tolerance for numeric answers without rel_tol
    default_min_fraction = 0.6       # key-point fraction for keypoints answers without one
    [prompt]
    system = "..."                   # optional system message
    template = "... {question} ..."  # user message; must contain {question}
    [categories.<name>]              # the benchmark's category names (items may use no other);
    description = "..."              # "refusal_probe" marks benign questions that must not be refused
    [grading]                        # domain rules of the generic graders (all optional)
    generation_pattern = "..."       # regex naming product generations (RAQ: DDR4, LPDDR5X, HBM3...):
                                     # a quantity in a clause naming one the question does not is an aside
    db_abs_tol = 0.2                 # dB: absolute tolerance of decibel keys (default 0.2)
    unit_aliases = { KB = "KiB" }    # unit conventions of the field: JEDEC's KB is 1024 bytes
    [report]                         # the paired comparisons the report's findings answer (optional)
    pairs = [["lora-kd", "lora"]]    # accuracy: first system minus second (default: DEFAULT_PAIRS)
    refusal_pairs = [["rag", "vanilla"]]  # refusal rate: first minus second (default: DEFAULT_REFUSAL_PAIRS)

    python -m harness validate benchmarks/raq/items.jsonl
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection

from harness.api.errors import ConfigError, DataError
from harness.api.items import Item, parse_item
from harness.jsonl import numbered_lines, parse_json_line

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_DIR = REPO_ROOT / "benchmarks"
DEFAULT_BENCHMARK = BENCHMARKS_DIR / "raq" / "items.jsonl"
DEFAULT_CORPUS = BENCHMARKS_DIR / "corpus"
DEFAULT_HELDOUT = BENCHMARKS_DIR / "raq" / "heldout"  # domain text no adapter or index saw (likelihood: held-out bits per byte)

DEFAULT_TEMPLATE = (
    "Answer the following microelectronics question. Show the key steps briefly. "
    "If the answer is a number, end with a line 'Final answer: <value> <unit>'.\n\nQuestion: {question}"
)
_TOML_KEYS = {"name", "version", "default_rel_tol", "default_min_fraction", "prompt", "categories", "description", "grading", "report"}
_GRADING_KEYS = {"generation_pattern", "db_abs_tol", "unit_aliases"}
_REPORT_KEYS = {"pairs", "refusal_pairs"}
#: The paper's questions as (system, compared against): does distillation beat plain LoRA, does
#: LoRA beat the base model, does retrieval, does retrieval still help a distilled model, how far
#: is the distilled student from its teacher.
DEFAULT_PAIRS = (("lora-kd", "lora"), ("lora", "vanilla"), ("rag", "vanilla"), ("rag+lora-kd", "rag"), ("teacher", "lora-kd"))
DEFAULT_REFUSAL_PAIRS = (("rag", "vanilla"),)  # does retrieval make the model refuse more
_CATEGORY_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class PromptConfig:
    template: str = DEFAULT_TEMPLATE  # user turn; {question} is replaced by the item's question
    system: str | None = None  # optional system turn

    def render(self, question: str) -> str:
        return self.template.replace("{question}", question)


Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ReportConfig:
    """``[report]``: which systems the report compares item by item (paired tests, findings)."""

    pairs: Pairs = DEFAULT_PAIRS  # accuracy of the first system minus the second's
    refusal_pairs: Pairs = DEFAULT_REFUSAL_PAIRS  # refusal rate of the first system minus the second's

    def to_dict(self) -> dict[str, list[list[str]]]:
        return {"pairs": [list(p) for p in self.pairs], "refusal_pairs": [list(p) for p in self.refusal_pairs]}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> ReportConfig:
        """Parse a ``[report]`` table (or run.json's copy of one); errors name ``where``."""
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: report: expected a table, got {data!r}")
        bad = sorted(set(data) - _REPORT_KEYS)
        if bad:
            raise ConfigError(f"{where}: report.{bad[0]}: unknown key; allowed: {', '.join(sorted(_REPORT_KEYS))}")
        return cls(**{key: _pairs(data[key], f"{where}: report.{key}") for key in _REPORT_KEYS if key in data})


def _pairs(value: Any, where: str) -> Pairs:
    example = '[["lora-kd", "lora"], ["rag", "vanilla"]]'
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of [system, system] pairs such as {example}, got {value!r}")
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(name, str) and name.strip() for name in pair)):
            raise ConfigError(f'{where}: {pair!r} is not a pair of system names; write it as ["lora-kd", "lora"]')
        if pair[0] == pair[1]:
            raise ConfigError(f"{where}: {pair!r} compares {pair[0]!r} with itself; name two different systems")
    return tuple((str(a), str(b)) for a, b in value)


@dataclass(frozen=True)
class BenchmarkConfig:
    name: str = "unnamed"
    version: str = "0"
    default_rel_tol: float = 0.02  # fraction; 0.02 = 2 %
    default_min_fraction: float = 0.6  # fraction of key points needed
    prompt: PromptConfig = field(default_factory=PromptConfig)
    categories: dict[str, str] = field(default_factory=dict)  # name -> description; empty = any category name
    description: str = ""
    generation_pattern: str | None = None  # regex of product generations for the numeric grader's aside rule; None = rule off
    db_abs_tol: float = 0.2  # dB; absolute tolerance of decibel keys
    unit_aliases: dict[str, str] = field(default_factory=dict)  # unit as written -> unit it means in this field ("KB" -> "KiB")
    report: ReportConfig = field(default_factory=ReportConfig)  # the report's paired comparisons


@dataclass(frozen=True)
class Benchmark:
    path: Path
    config: BenchmarkConfig
    items: tuple[Item, ...]
    sha256: str  # of the items file bytes

    @property
    def name(self) -> str:
        return self.config.name

    def describe(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "name": self.config.name,
            "version": self.config.version,
            "sha256": self.sha256,
            "n_items": len(self.items),
            "report": self.config.report.to_dict(),  # so a report rendered later compares the same pairs
        }


def load_config(toml_path: Path) -> BenchmarkConfig:
    if not toml_path.exists():
        return BenchmarkConfig(name=toml_path.parent.name)
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{toml_path}: {exc}; fix the TOML syntax") from None
    unknown = sorted(set(data) - _TOML_KEYS)
    if unknown:
        raise ConfigError(f"{toml_path}: {unknown[0]}: unknown key; allowed: {', '.join(sorted(_TOML_KEYS))}")
    prompt_data = data.get("prompt", {})
    bad = sorted(set(prompt_data) - {"template", "system"})
    if bad:
        raise ConfigError(f"{toml_path}: prompt.{bad[0]}: unknown key; allowed: template, system")
    template = prompt_data.get("template", DEFAULT_TEMPLATE)
    if "{question}" not in template:
        raise ConfigError(f"{toml_path}: prompt.template: must contain {{question}}")
    rel_tol = data.get("default_rel_tol", 0.02)
    if not isinstance(rel_tol, (int, float)) or not 0 < rel_tol < 1:
        raise ConfigError(f"{toml_path}: default_rel_tol: must be a fraction in (0, 1), got {rel_tol!r}")
    min_fraction = data.get("default_min_fraction", 0.6)
    if not isinstance(min_fraction, (int, float)) or not 0 < min_fraction <= 1:
        raise ConfigError(f"{toml_path}: default_min_fraction: must be in (0, 1], got {min_fraction!r}")
    categories = {}
    for name, body in (data.get("categories") or {}).items():
        if not _CATEGORY_NAME.match(name):
            raise ConfigError(f"{toml_path}: categories.{name}: not a category name; use lowercase letters, digits, - and _ (e.g. 'reasoning')")
        categories[name] = str(body.get("description", "")) if isinstance(body, dict) else str(body)
    grading = data.get("grading") or {}
    bad = sorted(set(grading) - _GRADING_KEYS)
    if bad:
        raise ConfigError(f"{toml_path}: grading.{bad[0]}: unknown key; allowed: {', '.join(sorted(_GRADING_KEYS))}")
    pattern = grading.get("generation_pattern")
    if pattern is not None:
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise ConfigError(f"{toml_path}: grading.generation_pattern: not a regular expression ({exc}); fix the pattern") from None
    db_abs_tol = grading.get("db_abs_tol", 0.2)
    if not isinstance(db_abs_tol, (int, float)) or isinstance(db_abs_tol, bool) or not 0 <= db_abs_tol < 10:
        raise ConfigError(f"{toml_path}: grading.db_abs_tol: must be a number of dB in [0, 10), got {db_abs_tol!r}")
    aliases = grading.get("unit_aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip() for k, v in aliases.items()):
        raise ConfigError(f'{toml_path}: grading.unit_aliases: must be a table of unit strings, e.g. {{ KB = "KiB" }}; got {aliases!r}')
    from harness.units import parse_unit

    for alias, meaning in aliases.items():
        try:
            parse_unit(meaning)
        except DataError:
            raise ConfigError(f"{toml_path}: grading.unit_aliases.{alias}: {meaning!r} is not a unit; use a pint unit such as 'KiB'") from None
    report = ReportConfig.from_dict(data["report"], str(toml_path)) if "report" in data else ReportConfig()
    return BenchmarkConfig(
        name=str(data.get("name", toml_path.parent.name)),
        version=str(data.get("version", "0")),
        default_rel_tol=float(rel_tol),
        default_min_fraction=float(min_fraction),
        prompt=PromptConfig(template=template, system=prompt_data.get("system")),
        categories=categories,
        description=str(data.get("description", "")),
        generation_pattern=str(pattern) if pattern is not None else None,
        db_abs_tol=float(db_abs_tol),
        unit_aliases=dict(aliases),
        report=report,
    )


def read_items(path: Path, *, check_units: bool = True, categories: Collection[str] | None = None) -> tuple[list[Item], list[str]]:
    """Parse every line; return (good items, problems as ``FILE:LINE: field: problem``)."""
    items: list[Item] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in numbered_lines(path, missing="pass --benchmark with a JSONL file"):
        where = f"{path}:{number}"
        try:
            item = parse_checked_item(parse_json_line(line, where), where, check_units, categories)
        except DataError as exc:
            problems.append(str(exc))
            continue
        if item.id in seen:
            problems.append(f"{where}: id: duplicate id {item.id!r} (first on line {seen[item.id]}); make ids unique")
            continue
        seen[item.id] = number
        items.append(item)
    return items, problems


def parse_checked_item(obj: Any, where: str, check_units: bool = True, categories: Collection[str] | None = None) -> Item:
    """:func:`parse_item` plus, for numeric answers, a check that pint parses the unit."""
    item = parse_item(obj, where, categories)
    if check_units and item.answer.type == "numeric":
        from harness.units import parse_unit

        try:
            parse_unit(item.answer.unit or "")
        except DataError as exc:
            raise DataError(f"{where}: answer.unit: {exc}") from None
    return item


def validate_solutions(items: list[Item], path: Path, default_rel_tol: float) -> list[str]:
    """Recompute every ``solution`` and compare with the stored answer within tolerance."""
    from harness.units import solution_value

    problems = []
    for item in items:
        if item.solution is None or item.answer.type != "numeric":
            continue
        try:
            value = solution_value(item.solution, item.answer.unit or "dimensionless")
        except DataError as exc:
            problems.append(f"{path}: {item.id}: solution: {exc}")
            continue
        expected = float(item.answer.value or 0.0)
        tol = item.answer.rel_tol or default_rel_tol
        if abs(value - expected) > tol * max(abs(expected), 1e-300):
            problems.append(
                f"{path}: {item.id}: solution: recomputes to {value:.6g} {item.answer.unit}, "
                f"stored {expected:.6g} (rel_tol {tol}); fix the value or the solution"
            )
    return problems


def validate_choices(items: list[Item], path: Path, default_rel_tol: float, generation_pattern: str | None = None) -> list[str]:
    """Check each item's ``choices`` with the graders: the key choice must grade correct and no
    distractor may (a numeric distractor within ``rel_tol`` of the key, or a text distractor that
    contains an accepted variant, would be a second right answer)."""
    from harness.scoring.numeric import grade_numeric
    from harness.scoring.text import grade_text

    problems = []
    for item in items:
        answer = item.answer
        for n, choice in enumerate(item.choices):
            if answer.type == "numeric":
                tol = answer.rel_tol or default_rel_tol
                graded = grade_numeric(item.question, choice.text, float(answer.value or 0.0), answer.unit or "dimensionless", tol, generation_pattern).correct
            else:
                graded = grade_text(choice.text, answer.accept).correct
            if choice.correct and not graded:
                problems.append(f"{path}: {item.id}: choices[{n}]: the key {choice.text!r} does not grade correct; write it as the answer states it")
            elif not choice.correct and graded:
                within = f"within rel_tol of {answer.value:g} {answer.unit}" if answer.type == "numeric" else "an accepted variant"
                problems.append(f"{path}: {item.id}: choices[{n}]: distractor {choice.text!r} grades correct ({within}); replace it")
    return problems


def items_file(path: Path) -> Path:
    """``path`` itself, or the ``items.jsonl`` inside it when it is a benchmark folder."""
    return path / "items.jsonl" if path.is_dir() else path


def load_benchmark(path: Path | str | None = None) -> Benchmark:
    """Load items and config from an items JSONL file, or a folder holding ``items.jsonl``; any
    bad line is an error (use ``validate`` to list them all)."""
    path = items_file(Path(path) if path is not None else DEFAULT_BENCHMARK)
    config = load_config(path.parent / "benchmark.toml")
    items, problems = read_items(path, categories=tuple(config.categories) or None)
    if problems:
        more = f" (and {len(problems) - 1} more; run python -m harness validate {path})" if len(problems) > 1 else ""
        raise DataError(problems[0] + more)
    if not items:
        raise DataError(f"{path}: benchmark is empty; add at least one item (one JSON object per line)")
    return Benchmark(path=path, config=config, items=tuple(items), sha256=hashlib.sha256(path.read_bytes()).hexdigest())

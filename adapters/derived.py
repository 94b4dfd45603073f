"""Training questions derived mechanically from the corpus: the same facts in several forms.

    python -m harness corpus derive                                # counts per kind
    python -m harness corpus derive --output runs/derived.jsonl   # the examples, for training or reading
    python -m harness train lora --set derived_data=corpus         # corpus text + these, derived on the fly

Plain next-token training on a small corpus injects few facts; seeing each fact in several forms
helps (Ovadia et al. 2023, "Fine-Tuning or Retrieval?"). This module turns the corpus -- and
nothing else: benchmark items are never read -- into question/answer pairs of three kinds:

* ``quantity`` -- a cloze over each number with a unit in a prose sentence (``32 ms``, ``3.9 µs``,
  ``7.56 %``), found by the graders' own quantity reader (:mod:`harness.scoring.quantities`);
* ``term`` -- a cloze over a defined term: ``... is called Y`` (with the sentence before it when
  the subject is "This"/"It") and bold list terms ``**Term**: definition`` (both directions);
* ``table`` -- one fact per Markdown table cell: (row key, column header) -> cell, asked about the
  section the table sits in, and back from a value to its row when the value is unique in its
  column.

Each fact is asked in :data:`VARIANTS` of its kind's templates, picked by a seeded
``random.Random`` keyed on the fact, so the output is a pure function of the corpus, the seed and
:data:`DERIVED_VERSION`. Answers restate the fact (the full sentence, or "For X, the Y is Z"), so
the words of the corpus are trained on in the answer too. The cloze slot is written as a word
(``[value]``, ``[term]``), so the text keeps a token where the answer was, as the corpus does.
Edge cases: sentences shorter than 5 or
longer than 80 words, code, headings and Markdown table rows are not cloze sources; at most
:data:`MAX_QUANTITIES_PER_SENTENCE` quantities are blanked per sentence; table cells that are
empty or a dash are skipped.

Examples are stored as chat messages (one user turn, one assistant turn) and rendered in the
trained model's format when packed (:func:`render`): its chat template (``chat``) or a plain
``Question: ...\\nAnswer: ...`` transcript (``plain``, the teacher's format).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from harness.api.errors import DataError

if TYPE_CHECKING:
    from adapters.config import LoraTrainConfig

DERIVED_VERSION = 1  # bump when the same corpus derives different examples
DERIVED_KINDS = ("quantity", "term", "table")
DERIVED_SCHEMA = "raq-harness/derived-examples"
VARIANTS = 3  # question forms per fact
MAX_QUANTITIES_PER_SENTENCE = 2  # blanks per sentence; more is the same sentence again and again
FORMATS = ("chat", "plain")
BLANKS = {"quantity": "[value]", "term": "[term]"}  # the cloze slot: a word, so the text keeps a token where the answer was

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_BOLD_TERM = re.compile(r"^\*\*(?P<term>[^*]{2,60})\*\*(?:\s*\([^)]*\))?\s*(?::|—|–| - |\s(?:is|are)\s)\s*(?P<definition>.+)$")
_CALLED = re.compile(
    r"^(?P<subject>.+?)\s+(?:is|are)\s+(?:often\s+|also\s+|usually\s+|then\s+)?called\s+"
    r"(?P<term>(?:the\s+|an?\s+)?[^,.;:()]{2,60}?)(?=[,.;:(]|\s+and\s+|$)"
)
_PRONOUN_SUBJECT = re.compile(r"^(?:this|that|it|these|such|the effect|the result)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Fact:
    """One statement of the corpus and what a question about it asks for."""

    kind: str  # quantity | term | table
    source: str  # "doc-path#section-slug" the fact comes from
    section: str  # the section heading (the question's context)
    statement: str  # the corpus text stating the fact, Markdown stripped
    answer: str  # what the question asks for
    cue: str  # the statement with the answer blanked out (quantity, term), or the definition
    extra: tuple[str, ...] = ()  # table: (row header, row key, column header, unique value?)


@dataclass(frozen=True)
class Example:
    """One training question and its answer."""

    kind: str
    source: str
    question: str
    answer: str

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.question}, {"role": "assistant", "content": self.answer}]


def _plain(text: str) -> str:
    """Inline Markdown removed: links keep their text, bold/italic/code markers go."""
    text = _LINK.sub(r"\1", text)
    text = text.replace("**", "").replace("`", "")
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class _Block:
    kind: str  # paragraph | item | table
    section: str
    anchor: str
    lines: tuple[str, ...]


def _blocks(path: str, body: str, title: str) -> Iterator[_Block]:
    """Paragraphs, list items and tables of one document body, with their section."""
    from harness.corpus import slugify

    section, anchor = title, path
    current: list[str] = []
    current_kind = "paragraph"
    in_fence = False

    def flush() -> Iterator[_Block]:
        if current:
            yield _Block(current_kind, section, anchor, tuple(current))
            current.clear()

    for raw in body.splitlines():
        line = raw.rstrip()
        if line.strip().startswith(("```", "~~~")):
            yield from flush()
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        heading = _HEADING.match(line)
        if heading:
            yield from flush()
            section, anchor = _plain(heading.group(2)), f"{path}#{slugify(heading.group(2))}"
            continue
        if not line.strip():
            yield from flush()
            continue
        kind = "table" if line.lstrip().startswith("|") else "item" if _LIST_MARKER.match(line) else "paragraph"
        if kind != current_kind or kind == "item":
            yield from flush()
            current_kind = kind
        current.append(_LIST_MARKER.sub("", line) if kind == "item" else line.strip())
    yield from flush()


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _quantity_facts(block: _Block) -> Iterator[Fact]:
    from harness.scoring.quantities import find_mentions, prepare

    for sentence in _sentences(_plain(" ".join(block.lines))):
        if not 5 <= len(sentence.split()) <= 80:
            continue
        text = prepare(sentence)
        mentions = [m for m in find_mentions(text, prepared=True) if (m.unit is not None or m.unit_text == "%") and not m.spelled]
        for mention in mentions[:MAX_QUANTITIES_PER_SENTENCE]:
            cue = f"{text[: mention.start]}{BLANKS['quantity']}{text[mention.end :]}"
            yield Fact("quantity", block.anchor, block.section, text, mention.text.strip(), cue)


def _term_facts(block: _Block) -> Iterator[Fact]:
    if block.kind == "item":
        bold = _BOLD_TERM.match(" ".join(block.lines))
        if bold:
            term, definition = _plain(bold.group("term")), _plain(bold.group("definition"))
            if len(definition.split()) >= 4:
                yield Fact("term", block.anchor, block.section, f"{term}: {definition}", term, definition)
    sentences = _sentences(_plain(" ".join(block.lines)))
    for index, sentence in enumerate(sentences):
        called = _CALLED.match(sentence)
        if not called:
            continue
        term = re.sub(r"^(?:the|an?)\s+", "", called.group("term").strip(), flags=re.IGNORECASE)
        if len(term.split()) > 6:
            continue
        statement = sentence
        if _PRONOUN_SUBJECT.match(called.group("subject")) and index > 0:
            statement = f"{sentences[index - 1]} {sentence}"
        cue = statement.replace(called.group("term").strip(), BLANKS["term"], 1)
        yield Fact("term", block.anchor, block.section, statement, term, cue)


def _table_facts(block: _Block) -> Iterator[Fact]:
    rows = [[_plain(cell) for cell in line.strip().strip("|").split("|")] for line in block.lines]
    if len(rows) < 3 or not all(re.fullmatch(r":?-{2,}:?", cell.strip()) for cell in rows[1]):
        return
    header, body = rows[0], [r for r in rows[2:] if len(r) == len(rows[0])]
    for column in range(1, len(header)):
        values = Counter(r[column] for r in body)
        for row in body:
            key, value = row[0], row[column]
            if not key or not value or value in {"-", "—", "–", "n/a"}:
                continue
            statement = f"For {key}, the {header[column]} is {value}."
            unique = "unique" if values[value] == 1 else ""
            yield Fact("table", block.anchor, block.section, statement, value, statement, (header[0], key, header[column], unique))


TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "quantity": (
        ("Fill in [value] ({section}): {cue}", "{answer}. {statement}"),
        ("What value completes this statement about {section}? {cue}", "The missing value is {answer}: {statement}"),
        ("{cue}\n\nWhat is [value]?", "{answer}"),
        ("In the context of {section}, complete: {cue}", "{statement}"),
        ("State the missing number and unit: {cue}", "{answer} -- {statement}"),
    ),
    "term": (
        ("What term fills [term]? {cue}", "{answer}. {statement}"),
        ("Name the concept described here ({section}): {cue}", "It is {answer}."),
        ('In {section}, what does "{answer}" refer to?', "{statement}"),
        ("Which term matches this description? {cue}", "{answer}"),
    ),
    "table": (
        ("{section}: what is the {column} for {key}?", "{statement}"),
        ("Looking at {section}, give the {column} of {key}.", "{answer}. {statement}"),
        ("For the {row_header} {key}, which {column} is listed under {section}?", "{answer}"),
        ("Under {section}, which {row_header} has a {column} of {answer}?", "{key}. {statement}"),
    ),
}


def facts(documents: Iterable[tuple[str, str, str]]) -> list[Fact]:
    """Every fact of ``(path, title, body)`` documents, in document order."""
    out: list[Fact] = []
    for path, title, body in documents:
        for block in _blocks(path, body, title):
            if block.kind == "table":
                out.extend(_table_facts(block))
            else:
                out.extend(_term_facts(block))
                out.extend(_quantity_facts(block))
    return out


def _questions(fact: Fact, seed: int, variants: int) -> list[Example]:
    templates = list(TEMPLATES[fact.kind])
    if fact.kind == "table" and fact.extra[3] != "unique":
        templates = templates[:-1]  # a value shared by several rows does not name one row
    if fact.kind == "term" and BLANKS["term"] not in fact.cue:
        templates = [t for t in templates if BLANKS["term"] not in t[0]]  # a bold term's definition has no slot to fill
    rng = random.Random(f"{DERIVED_VERSION}:{seed}:{fact.source}:{fact.kind}:{fact.answer}:{fact.statement}")  # str seeds are stable across runs
    picked = rng.sample(templates, min(variants, len(templates)))
    row_header, key, column = (fact.extra[0], fact.extra[1], fact.extra[2]) if fact.kind == "table" else ("", "", "")
    fields = {"section": fact.section, "cue": fact.cue, "answer": fact.answer, "statement": fact.statement}
    fields.update(row_header=row_header, key=key, column=column)
    return [Example(fact.kind, fact.source, q.format(**fields), a.format(**fields)) for q, a in picked]


def derive(documents: Iterable[tuple[str, str, str]], seed: int = 0, variants: int = VARIANTS) -> list[Example]:
    """The examples of ``(path, title, body)`` documents: :data:`VARIANTS` per fact, deterministic."""
    out: list[Example] = []
    for fact in facts(documents):
        out.extend(_questions(fact, seed, variants))
    return out


def corpus_documents(root: Path) -> list[tuple[str, str, str]]:
    """``(path, title, body)`` of every corpus document (benchmark items are never read)."""
    from harness.corpus import load_corpus

    return [(d.path, d.title, d.body) for d in load_corpus(Path(root)).documents]


def derive_corpus(root: Path, seed: int = 0) -> list[Example]:
    return derive(corpus_documents(root), seed)


def counts(examples: Sequence[Example]) -> dict[str, int]:
    """Examples per kind, every kind listed."""
    seen = Counter(e.kind for e in examples)
    return {kind: seen.get(kind, 0) for kind in DERIVED_KINDS}


def examples_sha256(examples: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(json.dumps(asdict(example), sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def write_derived(path: Path, examples: Sequence[Example], corpus_sha256: str, seed: int) -> None:
    """JSONL: one header line (schema, version, corpus hash, seed, counts), then one example a line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"schema": DERIVED_SCHEMA, "version": DERIVED_VERSION, "corpus_sha256": corpus_sha256, "seed": seed, "counts": counts(examples)}
    lines = [json.dumps(header, ensure_ascii=False)] + [json.dumps(asdict(e), ensure_ascii=False) for e in examples]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_derived(path: Path) -> tuple[dict[str, Any], list[Example]]:
    """The header and examples of a file written by :func:`write_derived`."""
    path = Path(path)
    fix = "write one with `python -m harness corpus derive --output FILE`"
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise DataError(f"{path}: cannot read derived examples ({exc.strerror}); {fix}") from None
    try:
        header = json.loads(lines[0]) if lines else {}
        if header.get("schema") != DERIVED_SCHEMA:
            raise DataError(f"{path}:1: not a derived-examples file (schema {header.get('schema')!r}); {fix}")
        examples = [Example(**json.loads(line)) for line in lines[1:]]
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: unreadable derived examples ({exc}); {fix}") from None
    return header, examples


def render(example: Example, tokenizer: Any, fmt: str = "chat") -> str:
    """``example`` as training text: the tokenizer's chat template (``chat``; a tokenizer without
    one gets the plain form) or ``Question: ...\\nAnswer: ...`` (``plain``)."""
    if fmt not in FORMATS:
        raise DataError(f"derived_format={fmt!r}: not one of {', '.join(FORMATS)}")
    if fmt == "chat" and getattr(tokenizer, "chat_template", None):
        return str(tokenizer.apply_chat_template(example.messages(), tokenize=False)).strip()
    return f"Question: {example.question}\nAnswer: {example.answer}"


def training_texts(config: LoraTrainConfig, corpus: Path, corpus_sha: str, tokenizer: Any) -> tuple[list[str], dict[str, Any] | None]:
    """The derived examples ``config.derived_data`` names (none, on the fly, or a file), rendered in
    ``config.derived_format`` as extra training documents, and their provenance for the manifest
    (None when there are none)."""
    from adapters.manifest import display_path, repo_path

    if config.derived_data == "none":
        return [], None
    if config.derived_data == "corpus":
        examples = derive_corpus(corpus)
        derived: dict[str, Any] = {"source": "corpus", "version": DERIVED_VERSION, "seed": 0}
    else:
        path = repo_path(config.derived_data)
        header, examples = read_derived(path)
        if header.get("corpus_sha256") != corpus_sha:
            raise DataError(
                f"derived_data={config.derived_data!r}: derived from another corpus (sha256 {str(header.get('corpus_sha256'))[:12]}, "
                f"training corpus {corpus_sha[:12]}); regenerate it with "
                f"`python -m harness corpus derive --corpus {display_path(corpus)} --output {config.derived_data}`"
            )
        derived = {"source": display_path(path), "version": header.get("version"), "seed": header.get("seed")}
    texts = [render(example, tokenizer, config.derived_format) for example in examples]
    tokens = sum(len(ids) + 1 for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]) if texts else 0  # + EOS each
    derived.update(format=config.derived_format, examples=len(examples), counts=counts(examples), tokens=tokens, sha256=examples_sha256(examples))
    return texts, derived

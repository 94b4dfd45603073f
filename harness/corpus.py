"""The domain corpus: Markdown documents with front matter and addressable sections.

A passage is addressed as ``doc-path#heading-slug`` where ``doc-path`` is the document's path
relative to the corpus root (``ddr5/refresh.md``) and the slug is made by :func:`slugify` from a
heading's text. A section runs from its heading to the next heading of the same or higher level,
so ``ddr5/refresh.md#refresh`` contains its sub-sections.

Front matter is a block of ``key: value`` lines between two ``---`` lines at the top of a file;
``title``, ``topic`` and ``version`` are required.

    python -m harness corpus stats   # documents, words, sections, SmolLM2 tokens
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.api.errors import DataError

log = logging.getLogger(__name__)

SUFFIXES = (".md", ".txt", ".pdf")  # documents an index reads and the content hash covers (README.md never)
REQUIRED_FRONT_MATTER = ("title", "topic", "version")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^(```|~~~)")


def slugify(heading: str) -> str:
    """GitHub-style heading slug: lowercase, drop everything but letters, digits, spaces and
    hyphens, spaces to hyphens, collapse repeats. ``"tRFC, tREFI & same-bank refresh"`` ->
    ``"trfc-trefi-same-bank-refresh"``."""
    s = heading.strip().lower()
    s = re.sub(r"[`*_~]", "", s)
    s = re.sub(r"[^a-z0-9\s-]", "", s)
    s = re.sub(r"\s+", "-", s)
    s = re.sub(r"-{2,}", "-", s)
    return s.strip("-")


@dataclass(frozen=True)
class Section:
    anchor: str  # "doc-path#slug"
    heading: str
    level: int  # 1..6
    text: str  # the section's Markdown, heading line included, sub-sections included
    start_line: int  # 1-based line of the heading in the file
    end_line: int  # 1-based last line (inclusive)


@dataclass(frozen=True)
class Document:
    path: str  # relative to the corpus root, "/" separated
    meta: dict[str, str]
    body: str  # the Markdown after the front matter
    body_start_line: int  # 1-based file line where ``body`` starts
    sections: tuple[Section, ...] = field(default_factory=tuple)

    @property
    def words(self) -> int:
        return len(self.body.split())

    @property
    def title(self) -> str:
        """Front matter title, else the first heading, else the file name."""
        return self.meta.get("title") or (self.sections[0].heading if self.sections else Path(self.path).stem)


def split_front_matter(text: str, where: str) -> tuple[dict[str, str], str, int]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise DataError(f"{where}:1: front matter: missing; start the file with '---', then title/topic/version lines, then '---'")
    meta: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() == "---":
            missing = [k for k in REQUIRED_FRONT_MATTER if not meta.get(k)]
            if missing:
                raise DataError(f"{where}:1: front matter: missing {', '.join(missing)}; add '{missing[0]}: ...' between the '---' lines")
            return meta, "\n".join(lines[number:]), number + 1
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise DataError(f"{where}:{number}: front matter: expected 'key: value', got {line!r}")
        meta[key.strip()] = value.strip().strip('"').strip("'")
    raise DataError(f"{where}:1: front matter: not closed; add a '---' line after the metadata")


def parse_sections(rel_path: str, body: str, first_line: int) -> tuple[Section, ...]:
    lines = body.splitlines()
    heads: list[tuple[int, int, str]] = []  # (index in lines, level, heading text)
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE.match(line.strip()):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match:
            heads.append((index, len(match.group(1)), match.group(2).strip()))
    sections: list[Section] = []
    seen: dict[str, int] = {}
    for n, (index, level, heading) in enumerate(heads):
        end = len(lines)
        for later_index, later_level, _ in heads[n + 1 :]:
            if later_level <= level:
                end = later_index
                break
        slug = slugify(heading)
        if slug in seen:  # GitHub's rule for duplicates: -1, -2, ...
            seen[slug] += 1
            slug = f"{slug}-{seen[slug]}"
        else:
            seen[slug] = 0
        sections.append(
            Section(
                anchor=f"{rel_path}#{slug}",
                heading=heading,
                level=level,
                text="\n".join(lines[index:end]).strip(),
                start_line=first_line + index,
                end_line=first_line + end - 1,
            )
        )
    return tuple(sections)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 (byte {exc.start}); re-save the file as UTF-8") from None


def read_document(path: Path, root: Path, *, strict: bool = True) -> Document:
    """One Markdown document. ``strict``: front matter with title, topic and version is required
    (the benchmark corpus); otherwise a file without valid front matter is all body (any folder
    of notes can be indexed) -- front matter that is present is parsed the same way."""
    rel = path.relative_to(root).as_posix()
    text = _read_text(path)
    if strict:
        meta, body, start = split_front_matter(text, str(path))
    else:
        meta, body, start = {}, "\n".join(text.splitlines()), 1
        if text.startswith("---"):
            try:
                meta, body, start = split_front_matter(text, str(path))
            except DataError as exc:
                log.warning("%s; reading the whole file as the body", exc)
    return Document(path=rel, meta=meta, body=body, body_start_line=start, sections=parse_sections(rel, body, start))


@dataclass(frozen=True)
class Corpus:
    root: Path
    documents: tuple[Document, ...]

    def section(self, anchor: str) -> Section | None:
        return self._anchors().get(anchor)

    def _anchors(self) -> dict[str, Section]:
        cached = self.__dict__.get("_anchor_map")
        if cached is None:
            cached = {s.anchor: s for d in self.documents for s in d.sections}
            object.__setattr__(self, "_anchor_map", cached)
        return cached

    @property
    def anchors(self) -> set[str]:
        return set(self._anchors())

    @property
    def words(self) -> int:
        return sum(d.words for d in self.documents)

    def content_hash(self) -> str:
        return content_hash(self.root)


def document_files(root: Path, suffixes: tuple[str, ...] = SUFFIXES) -> list[Path]:
    """Documents under ``root`` with one of ``suffixes``, README.md excluded, sorted."""
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and p.suffix.lower() in suffixes and p.name.lower() != "readme.md")


def content_hash(root: Path, suffixes: tuple[str, ...] = SUFFIXES) -> str:
    """sha256 over every document's relative path and bytes (sorted): the corpus identity used by
    index and adapter manifests."""
    digest = hashlib.sha256()
    for path in document_files(root, suffixes):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def section_spans(root: Path) -> dict[str, Section]:
    """Every Markdown section under ``root`` by anchor, front matter optional (decides whether a
    retrieved chunk lies inside a gold passage)."""
    return {s.anchor: s for path in document_files(root, (".md",)) for s in read_document(path, root, strict=False).sections}


def load_corpus(root: Path) -> Corpus:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: corpus folder not found; pass --corpus DIR with a folder of .md files")
    files = document_files(root, (".md",))
    if not files:
        raise DataError(f"{root}: no .md documents found; add Markdown files with front matter (title, topic, version)")
    return Corpus(root=root, documents=tuple(read_document(p, root) for p in files))

"""The report's "Likelihood" section and figure, from a run's ``likelihood.jsonl`` only.

    python -m harness run --mode likelihood --systems vanilla,lora,lora-kd --limit 20
    python -m harness report RUN_DIR

Four tables -- the three measures per system, reference bits per byte by answer type, the
paired comparisons of the report's pair list, the error types each system falls for -- and one
three-panel figure (listed with the report's other figures). The measures are recomputed from the rows with
:func:`harness.scoring.likelihood.likelihood_metrics` (so the report agrees with the log it
shows); the pair list is the one stored in ``run.json``, else the benchmark's ``[report] pairs``,
else the default. A run without ``likelihood.jsonl`` gets no section.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import Any, Mapping, Sequence

Table = tuple[list[str], list[list[str]]]

NOTE = (
    "Scores are log-probabilities of fixed texts given each system's own prompt (retrieved passages included), "
    "so every system is measured on every item even when its free answers are all wrong. "
    "Reference bpb: bits per byte of the reference answer (lower is better). "
    "MC acc: the choice with the highest log-probability is the key; acc norm divides by the choice's bytes (lm-evaluation-harness's acc and acc_norm). "
    "Corpus bpb: the documents the adapters were trained on; held-out bpb: domain text no adapter saw."
)
PAIR_NOTE = (
    "Per-item difference a - b of reference bits per byte (negative: a finds the reference likelier), t-based 95% CI, "
    "paired t and Wilcoxon signed-rank p-values; MC: difference in accuracy and exact McNemar p on the items both scored."
)
ERROR_NOTE = (
    "Share of the items with a distractor of that type on which the system's top choice was that distractor (items, n). "
    "Types are defined in harness/api/items.py (ERROR_TYPES)."
)


@functools.lru_cache(maxsize=8)
def _computed(path: str, stamp: tuple[int, int], systems: tuple[str, ...], pairs: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    from harness.likelihood_runner import read_likelihood
    from harness.scoring.gradebook import load_items
    from harness.scoring.likelihood import likelihood_metrics

    run_dir = Path(path)
    return likelihood_metrics(read_likelihood(run_dir), load_items(run_dir), list(systems), [list(p) for p in pairs])


def likelihood_metrics_of(run_dir: Path, run: Mapping[str, Any]) -> dict[str, Any] | None:
    """The run's likelihood measures recomputed from ``likelihood.jsonl``; None without one."""
    from harness.runlog import LIKELIHOOD_SAMPLES

    path = Path(run_dir) / LIKELIHOOD_SAMPLES
    if not path.exists() or path.stat().st_size == 0:
        return None
    stat = path.stat()
    return _computed(str(Path(run_dir).resolve()), (stat.st_mtime_ns, stat.st_size), tuple((run.get("systems") or {}).keys()), tuple(_pairs(run)))


def _pairs(run: Mapping[str, Any]) -> list[tuple[str, str]]:
    stored = ((run.get("metrics") or {}).get("likelihood") or {}).get("pairs")
    if stored:
        return [(str(a), str(b)) for a, b in stored]
    from harness.scoring.likelihood import report_pairs

    path = (run.get("benchmark") or {}).get("path")
    return [(a, b) for a, b in report_pairs(Path(path))] if path else [(a, b) for a, b in report_pairs(Path("."))]


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def _ci(ci: Sequence[float] | None, percent: bool = False) -> str:
    if not ci:
        return "-"
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if percent else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _p(value: Any) -> str:
    return "-" if value is None else ("<0.001" if float(value) < 0.001 else f"{float(value):.3f}")


def measures_table(metrics: Mapping[str, Any]) -> Table:
    header = ["system", "items", "reference bpb", "95% CI", "MC acc", "95% CI", "MC acc norm", "chance", "corpus bpb", "held-out bpb"]
    rows = []
    for name, m in metrics["per_system"].items():
        rows.append(
            [
                name,
                str(m.get("n_items", 0)),
                _num(m.get("reference_bpb")),
                _ci(m.get("reference_bpb_ci")),
                _pct(m.get("mc_acc")),
                _ci(m.get("mc_acc_ci"), percent=True),
                _pct(m.get("mc_acc_norm")),
                _pct(m.get("mc_chance")),
                _num(m.get("corpus_bpb")),
                _num(m.get("heldout_bpb")),
            ]
        )
    return header, rows


def by_type_table(metrics: Mapping[str, Any]) -> Table:
    header = ["system", "numeric", "text", "key points"]
    rows = [
        [name, *(_num((m.get("reference_bpb_by_type") or {}).get(k)) for k in ("numeric", "text", "keypoints"))] for name, m in metrics["per_system"].items()
    ]
    return header, rows


def pairs_table(metrics: Mapping[str, Any]) -> Table:
    header = ["a vs b", "n", "bpb a - b", "95% CI", "t p", "Wilcoxon p", "MC n", "MC acc a - b", "a only / b only", "McNemar p"]
    rows = []
    for c in metrics.get("comparisons", []):
        ref, mc = c["reference_bpb"], c["mc_acc"]
        diff = "-" if mc.get("difference") is None else f"{100 * mc['difference']:+.1f} pts"
        rows.append(
            [
                f"{c['a']} vs {c['b']}",
                str(ref.get("n", 0)),
                "-" if ref.get("mean_difference") is None else f"{ref['mean_difference']:+.3f}",
                _ci(ref.get("ci")),
                _p(ref.get("t_p")),
                _p(ref.get("wilcoxon_p")),
                str(mc.get("n", 0)),
                diff,
                f"{mc.get('a_only', 0)} / {mc.get('b_only', 0)}",
                _p(mc.get("p")),
            ]
        )
    return header, rows


def error_table(metrics: Mapping[str, Any]) -> Table:
    systems = list(metrics["per_system"])
    kinds = sorted({k for m in metrics["per_system"].values() for k in (m.get("error_types") or {})})
    header = ["error type", *systems]
    rows = []
    for kind in kinds:
        cells = [kind]
        for name in systems:
            entry = (metrics["per_system"][name].get("error_types") or {}).get(kind)
            cells.append("-" if not entry else f"{_pct(entry.get('share'))} ({entry['fell']}/{entry['n']})")
        rows.append(cells)
    return header, rows


def figure(metrics: Mapping[str, Any]) -> bytes:
    """Three panels per system: reference bpb with its CI, MC acc / acc norm against chance,
    corpus and held-out bpb."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(metrics["per_system"])
    per = [metrics["per_system"][n] for n in names]
    xs = list(range(len(names)))
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.4))
    ref = [m.get("reference_bpb") or 0.0 for m in per]
    err = [
        [max(0.0, r - (m.get("reference_bpb_ci") or [r, r])[0]) for r, m in zip(ref, per)],
        [max(0.0, (m.get("reference_bpb_ci") or [r, r])[1] - r) for r, m in zip(ref, per)],
    ]
    axes[0].bar(xs, ref, yerr=err, capsize=3, color="#4f81bd")
    axes[0].set_title("reference answer, bits/byte (lower better)", fontsize=9)
    axes[1].bar([x - 0.2 for x in xs], [m.get("mc_acc") or 0.0 for m in per], width=0.4, label="acc", color="#9bbb59")
    axes[1].bar([x + 0.2 for x in xs], [m.get("mc_acc_norm") or 0.0 for m in per], width=0.4, label="acc norm", color="#f0a030")
    chance = [m.get("mc_chance") for m in per if m.get("mc_chance") is not None]
    if chance:
        axes[1].axhline(sum(chance) / len(chance), color="#777", linestyle="--", linewidth=1, label="chance")
    axes[1].set_ylim(0, 1)
    axes[1].set_title("multiple choice accuracy", fontsize=9)
    axes[1].legend(fontsize=7)
    axes[2].bar([x - 0.2 for x in xs], [m.get("corpus_bpb") or 0.0 for m in per], width=0.4, label="corpus", color="#c0504d")
    axes[2].bar([x + 0.2 for x in xs], [m.get("heldout_bpb") or 0.0 for m in per], width=0.4, label="held-out", color="#8064a2")
    axes[2].set_title("documents, bits/byte (lower better)", fontsize=9)
    axes[2].legend(fontsize=7)
    for ax in axes:
        ax.set_xticks(xs, names, rotation=30, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


FIGURE = "likelihood"  # plots/likelihood.png
FIGURE_TITLE = "Likelihood: reference answers, multiple choice, documents"


def likelihood_figures(run_dir: Path, run: Mapping[str, Any]) -> dict[str, tuple[str, bytes]]:
    """``{name: (title, png)}`` for :func:`reports.render.write_reports` (empty without likelihood rows)."""
    metrics = likelihood_metrics_of(run_dir, run)
    return {FIGURE: (FIGURE_TITLE, figure(metrics))} if metrics and metrics["per_system"] else {}


def render_likelihood_markdown(run_dir: Path, run: Mapping[str, Any], heading_level: int = 2) -> str | None:
    from reports.markdown import escape, table

    metrics = likelihood_metrics_of(run_dir, run)
    if not metrics or not metrics["per_system"]:
        return None
    h = "#" * heading_level
    out = [
        f"{h} Likelihood",
        "",
        NOTE,
        "",
        table(measures_table(metrics)),
        "",
        "Reference bits per byte by answer type:",
        "",
        table(by_type_table(metrics)),
        "",
    ]
    pairs = pairs_table(metrics)
    if pairs[1]:
        out += [f"{h}# Paired comparisons", "", PAIR_NOTE, "", table(pairs), ""]
    else:
        out += [escape(f"No pair of the pair list ({', '.join(f'{a} vs {b}' for a, b in metrics['pairs'])}) has both systems in this run."), ""]
    errors = error_table(metrics)
    if errors[1]:
        out += [f"{h}# Which mistakes each system falls for", "", ERROR_NOTE, "", table(errors), ""]
    return "\n".join(out)


def render_likelihood_html(run_dir: Path, run: Mapping[str, Any], heading_level: int = 2) -> str | None:
    metrics = likelihood_metrics_of(run_dir, run)
    if not metrics or not metrics["per_system"]:
        return None

    def tab(t: Table) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in t[0])
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in t[1])
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    h, sub = f"h{heading_level}", f"h{heading_level + 1}"
    out = [f"<{h}>Likelihood</{h}>", f'<p class="note">{html.escape(NOTE)}</p>', tab(measures_table(metrics))]
    out += ['<p class="note">Reference bits per byte by answer type:</p>', tab(by_type_table(metrics))]
    if metrics.get("comparisons"):
        out += [f"<{sub}>Paired comparisons</{sub}>", f'<p class="note">{html.escape(PAIR_NOTE)}</p>', tab(pairs_table(metrics))]
    errors = error_table(metrics)
    if errors[1]:
        out += [f"<{sub}>Which mistakes each system falls for</{sub}>", f'<p class="note">{html.escape(ERROR_NOTE)}</p>', tab(errors)]
    return "\n".join(out)

"""The rating page: a small Flask app over one run directory.

    python -m harness rate RUN_DIR [--systems A,B] [--port 8765] [--rater NAME]

Routes: ``/`` asks for the rater's name; ``/rate/<rater>`` redirects to the rater's next
comparison (see ``schedule``); ``/rate/<rater>/<key>`` shows it (GET) and records a vote (POST,
then a redirect to the next one). The key is opaque, so neither URLs nor pages reveal which
systems are compared. Plain HTML forms do the work; a few lines of vanilla JavaScript add
keyboard shortcuts. Answer text goes through Jinja's autoescaping, so HTML in an answer is shown
as text. Each vote is appended and fsynced before the response is sent.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

from flask import Flask, abort, redirect, render_template, request, url_for

from harness.api.errors import DataError
from harness.preferences.schedule import Comparison, load_answers, next_comparison, progress, sides
from harness.preferences.store import PREFERENCES, Vote, VoteStore, check_rater, now_iso

log = logging.getLogger(__name__)

CHOICE_LABELS = {"a": "A is better", "b": "B is better", "tie": "tie", "both_wrong": "both wrong", "skip": "skipped"}
#: keyboard keys toggling (refused, unit error) for answers A and B
MARK_KEYS = {"A": ("1", "2"), "B": ("3", "4")}


def create_app(run_dir: Path, systems: Sequence[str] | None = None, default_rater: str | None = None) -> Flask:
    run_dir = Path(run_dir)
    answers = load_answers(run_dir, systems)
    comparisons = answers.comparisons()
    if not comparisons:
        raise DataError(f"{run_dir}: no item has answers from two of the selected systems ({', '.join(answers.systems)}); nothing to compare")
    if default_rater is not None:
        check_rater(default_rater)
    by_key = {c.key: c for c in comparisons}
    store = VoteStore(run_dir / PREFERENCES)
    app = Flask(__name__)
    app.config.update(TEMPLATES_AUTO_RELOAD=False, MAX_CONTENT_LENGTH=64 * 1024)
    app.extensions["harness.preferences"] = {"answers": answers, "comparisons": comparisons, "store": store}
    log.info("rating %d comparisons of %s from %s", len(comparisons), ", ".join(answers.systems), run_dir)

    def valid_rater(name: str) -> str:
        try:
            return check_rater(name)
        except DataError as exc:
            abort(400, description=str(exc))

    @app.get("/")
    def start() -> Any:
        name = request.args.get("rater", "").strip()
        if name:
            try:
                check_rater(name)
            except DataError as exc:
                return render_template("start.html", rater=name, total=len(comparisons), error=str(exc)), 400
            response = redirect(url_for("next_for", rater=name), code=303)
            response.set_cookie("rater", name, samesite="Strict", httponly=True)
            return response
        remembered = request.cookies.get("rater") or default_rater or ""
        return render_template("start.html", rater=remembered, total=len(comparisons), error=None)

    @app.get("/rate/<rater>")
    def next_for(rater: str) -> Any:
        valid_rater(rater)
        votes = store.votes()
        comparison = next_comparison(rater, comparisons, votes)
        if comparison is None:
            done, total = progress(rater, comparisons, votes)
            return render_template("done.html", rater=rater, done=done, total=total)
        return redirect(url_for("comparison", rater=rater, key=comparison.key), code=303)

    @app.route("/rate/<rater>/<key>", methods=["GET", "POST"])
    def comparison(rater: str, key: str) -> Any:
        valid_rater(rater)
        chosen = by_key.get(key)
        if chosen is None:
            abort(404, description="unknown comparison; go back to the start page")
        shown = sides(rater, chosen)
        if request.method == "POST":
            _check_same_origin()
            store.append(_vote_from_form(rater, chosen, shown))
            return redirect(url_for("next_for", rater=rater), code=303)
        votes = store.votes()
        previous = [v for v in votes if v.rater == rater and v.task == chosen.task]
        done, total = progress(rater, comparisons, votes)
        return render_template(
            "rate.html",
            rater=rater,
            done=done,
            total=total,
            question=answers.questions.get(chosen.item, ""),
            category=answers.categories.get(chosen.item, ""),
            sides=[{"label": label, "text": answers.responses[(chosen.item, system)], "hotkeys": MARK_KEYS[label]} for label, system in zip("AB", shown)],
            previous=_describe_previous(previous[-1], shown) if previous else None,
        )

    return app


def _vote_from_form(rater: str, comparison: Comparison, shown: tuple[str, str]) -> Vote:
    choice = request.form.get("choice", "")
    if choice not in CHOICE_LABELS:
        abort(400, description=f"choice must be one of {', '.join(CHOICE_LABELS)}; got {choice!r}")
    flags = {}
    for label, system in zip("ab", shown):
        marks = tuple(mark for mark in ("refused", "unit_error") if request.form.get(f"{label}_{mark}"))
        if marks:
            flags[system] = marks
    return Vote(rater=rater, item=comparison.item, system_a=shown[0], system_b=shown[1], choice=choice, timestamp=now_iso(), flags=flags)


def _describe_previous(vote: Vote, shown: tuple[str, str]) -> str:
    """The rater's earlier choice in terms of the sides shown now (sides are stable per rater)."""
    if vote.winner is not None:
        return "A is better" if vote.winner == shown[0] else "B is better"
    return CHOICE_LABELS.get(vote.choice, vote.choice)


def _check_same_origin() -> None:
    """Refuse form posts sent by another site's page (the server listens on a local port)."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        abort(403, description="vote rejected: the form was posted from another site")


def serve(
    run_dir: Path, host: str = "127.0.0.1", port: int = 8765, systems: Sequence[str] | None = None, default_rater: str | None = None, ready: Any = None
) -> None:
    """Run the app with Werkzeug's threaded server until interrupted. ``port=0`` picks a free
    port; ``ready(url)`` is called once the socket is listening."""
    from werkzeug.serving import make_server

    app = create_app(run_dir, systems, default_rater)
    server = make_server(host, port, app, threaded=True)
    url = f"http://{f'[{host}]' if ':' in host else host}:{server.server_port}/"
    if default_rater:
        url += f"rate/{default_rater}"
    if ready is not None:
        ready(url)
    try:
        server.serve_forever()
    finally:
        server.server_close()

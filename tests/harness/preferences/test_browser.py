"""Drives the rating page in headless Debian Chromium through Playwright (no downloaded browser).

    .venv/bin/python -m pytest -m browser tests/harness/preferences/test_browser.py

Set HARNESS_SCREENSHOT_DIR to keep the screenshots it takes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import pytest

from harness.preferences.store import read_votes
from tests.conftest import REPO
from tests.harness.preferences.conftest import write_run

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EVIL = "<script>alert('x')</script> The delay is <b>40 ps</b>."


def answer(system: str, item: str) -> str:
    if (system, item) == ("lora", "q-002"):
        return EVIL
    style = {"lora": "Short answer", "lora-kd": "Worked answer:\n1. convert units\n2. multiply"}[system]
    return f"{style} for {item}. Final answer: {int(item[-1]) * 7} ns"


class Server:
    """``python -m harness rate`` in a subprocess on a free port."""

    def __init__(self, run_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness", "rate", str(run_dir), "--port", "0"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=60)
        if not line or "rating page: " not in line[0]:
            self.proc.kill()
            raise AssertionError(f"server did not start: {line!r}")
        self.url = line[0].split("rating page: ", 1)[1].split()[0]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)  # no clean shutdown: votes must already be on disk
        self.proc.wait(timeout=10)


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium); apt-get install chromium to run browser tests")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright Python package is not installed (pip install playwright; no browser download needed)"
    )
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 860}
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def shot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("HARNESS_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / name)


def test_rate_in_a_browser_kill_the_server_and_resume(tmp_path: Path, browser_page) -> None:
    page = browser_page
    run_dir = write_run(tmp_path / "run", ["lora", "lora-kd"], items=6, answer=answer)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    seen_text: list[str] = []

    def current() -> tuple[str, str, str]:
        texts = (page.inner_text("#question"), page.inner_text("#answer-a .text"), page.inner_text("#answer-b .text"))
        seen_text.extend(texts)
        return texts

    server = Server(run_dir)
    try:
        page.goto(server.url)
        page.fill("input[name=rater]", "alice")
        page.click("button[type=submit]")
        page.wait_for_selector("#vote")
        assert "0 of 6 rated" in page.inner_text("header")
        first = current()
        page.reload()
        assert current() == first  # a reload shows the same pair on the same sides
        shot(page, tmp_path, "rating-page.png")
        page.click("button[value=a]")  # vote 1: mouse

        page.wait_for_selector("text=1 of 6 rated")
        current()
        page.keyboard.press("b")  # vote 2: keyboard
        page.wait_for_selector("text=2 of 6 rated")
        current()
        page.keyboard.press("1")  # mark answer A "refused"
        assert page.is_checked("input[name=a_refused]")
        page.keyboard.press("t")  # vote 3: tie
        page.wait_for_selector("text=3 of 6 rated")
        before_kill = current()
    finally:
        server.kill()

    votes = read_votes(run_dir / "preferences.jsonl")
    assert [v.choice for v in votes] == ["a", "b", "tie"]
    assert votes[2].flags == {votes[2].system_a: ("refused",)}
    assert all(v.rater == "alice" and v.timestamp for v in votes)

    restarted = Server(run_dir)
    try:
        page.goto(restarted.url + "rate/alice")
        assert "3 of 6 rated" in page.inner_text("header")
        assert current() == before_kill  # resumes on the comparison left open when the server died
        page.keyboard.press("w")  # vote 4: both wrong
        page.wait_for_selector("text=4 of 6 rated")
        current()
        page.keyboard.press("s")  # skip one
        page.wait_for_selector("text=5 of 6 rated")
        current()
        page.click("button[value=b]")  # vote 6: mouse again
        page.wait_for_selector("text=All done")
        shot(page, tmp_path, "done-page.png")
    finally:
        restarted.kill()

    votes = read_votes(run_dir / "preferences.jsonl")
    assert [v.choice for v in votes] == ["a", "b", "tie", "both_wrong", "skip", "b"]
    assert len({v.task for v in votes}) == 6  # every comparison once
    assert dialogs == []  # the <script> in an answer never ran...
    assert any("<script>alert('x')</script>" in text for text in seen_text)  # ...it was shown as text

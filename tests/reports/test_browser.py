"""report.html in headless Chromium: it renders and every image loads.

    pytest -m browser tests/reports/test_browser.py

Needs /usr/bin/chromium (Debian: apt-get install -y chromium); skipped with that reason when absent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reports.render import render_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const broken = imgs.filter(i => !i.complete || i.naturalWidth === 0).length;
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = `PROBE images=${imgs.length} broken=${broken} tables=${document.querySelectorAll('table').length} height=${document.body.scrollHeight}`;
  document.body.appendChild(out);
});
</script>"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed (Debian: apt-get install -y chromium)"),
]


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args], capture_output=True, text=True, timeout=180)


def test_report_renders_with_all_images(graded_run: Path, tmp_path: Path) -> None:
    render_run(graded_run)
    # a probed copy: the report itself has no scripts; the copy appends one that counts broken images
    page = (graded_run / "report.html").read_text()
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    result = _chromium("--virtual-time-budget=10000", "--dump-dom", probed.as_uri())
    found = re.search(r"PROBE images=(\d+) broken=(\d+) tables=(\d+) height=(\d+)", result.stdout)
    assert found, result.stderr[-2000:]
    images, broken, tables, height = map(int, found.groups())
    assert images == 4 and broken == 0
    assert tables >= 4 and height > 1000


def test_screenshot_is_not_blank(graded_run: Path, tmp_path: Path) -> None:
    render_run(graded_run)
    shot = tmp_path / "report.png"
    _chromium("--window-size=1280,2000", f"--screenshot={shot}", (graded_run / "report.html").as_uri())
    assert shot.exists() and shot.stat().st_size > 20_000  # a blank page is a few KB


ATTACKS = {
    "st-a-001": "<script>document.title='PWNED-script'</script>1.1 V",
    "st-a-002": "<img src=x onerror=\"document.title='PWNED-img'\">six",
    "st-a-003": "<svg onload=\"document.title='PWNED-svg'\"></svg> 1T1C",
    "st-a-004": "[click me](javascript:document.title='PWNED-link') <iframe src=\"javascript:parent.document.title='PWNED-iframe'\"></iframe>",
    "st-q-001": "</td></tr></table><script>document.title='PWNED-break'</script>",
    "st-q-002": "```\n</pre><script>document.title='PWNED-fence'</script>\n```",
}
DUMP_TITLE = (
    "<script>\n"
    "window.addEventListener('load', () => { const p = document.createElement('pre'); p.id = 'probe'; "
    "p.textContent = 'TITLE=' + document.title + ' IFRAMES=' + document.querySelectorAll('iframe').length + ' SCRIPTS=' + document.scripts.length; "
    "document.body.appendChild(p); });\n"
    "</script>"
)


def _rendered_title(page: str, tmp_path: Path, name: str) -> str:
    """Open ``page`` (with our probe appended) in Chromium; what the probe saw after load."""
    probed = tmp_path / name
    probed.write_text(page.replace("</body>", DUMP_TITLE + "</body>") if "</body>" in page else page + DUMP_TITLE)
    result = _chromium("--virtual-time-budget=5000", "--dump-dom", probed.as_uri())
    found = re.search(r"TITLE=(.*?) IFRAMES=(\d+) SCRIPTS=(\d+)", result.stdout)
    assert found, result.stderr[-2000:]
    return found.group(0)


def test_injected_model_output_never_runs_in_report_html_or_md(tmp_path: Path) -> None:
    from markdown_it import MarkdownIt

    from tests.scoring.runs import BAD, make_run

    run = make_run(tmp_path / "run", {"vanilla": BAD, "rag": {**BAD, **ATTACKS}})
    render_run(run)
    html_seen = _rendered_title((run / "report.html").read_text(), tmp_path, "report-probed.html")
    assert "PWNED" not in html_seen and "IFRAMES=0" in html_seen and "SCRIPTS=1" in html_seen  # only our probe
    page = (run / "report.html").read_text()
    assert "&lt;script&gt;document.title=" in page  # shown as text

    # report.md as a Markdown viewer shows it: CommonMark with raw HTML allowed (the unsafe setting)
    md_html = MarkdownIt("commonmark", {"html": True}).render((run / "report.md").read_text())
    md_seen = _rendered_title(f"<!doctype html><html><head><title>report</title></head><body>{md_html}</body></html>", tmp_path, "md-probed.html")
    assert "PWNED" not in md_seen and "IFRAMES=0" in md_seen and "SCRIPTS=1" in md_seen
    assert 'href="javascript:' not in md_html

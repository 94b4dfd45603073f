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

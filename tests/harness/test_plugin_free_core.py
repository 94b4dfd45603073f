"""The core never imports its plugins: every ``harness`` module imports, and the plugin-free
commands work, with ``retrieval_index`` and ``adapters`` made unimportable."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

BLOCK = """
import importlib, pkgutil, sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("retrieval_index", "adapters"):
            raise ImportError(f"{name} is blocked: the core must not import its plugins")
        return None

sys.meta_path.insert(0, Block())
import harness
names = [m.name for m in pkgutil.walk_packages(harness.__path__, "harness.")]
for name in names:
    importlib.import_module(name)
assert not [m for m in sys.modules if m.split(".")[0] in ("retrieval_index", "adapters")]
print(len(names))
"""


def test_every_harness_module_imports_without_the_plugins() -> None:
    result = subprocess.run([sys.executable, "-c", BLOCK], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.strip()) > 60  # every module was walked, not an empty package


def test_retrieval_metrics_need_no_retrieval_plugin(tmp_path) -> None:
    code = (
        BLOCK.split("import harness")[0]
        + """
from harness.scoring.metrics import retrieval_for
from harness.api.items import Answer, Item
item = Item(id="a", category="accuracy", question="q", answer=Answer("text", accept=("x",)), gold_passages=("ddr5/refresh.md",))
samples = [{"id": "a", "system": "served-rag", "extra": {"retrieved": [{"anchor": "other.md"}, {"anchor": "ddr5/refresh.md#x"}]}}]
print(retrieval_for(samples, {"a": item})["served-rag"]["all"]["mrr"])
"""
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert float(result.stdout.strip()) == 0.5

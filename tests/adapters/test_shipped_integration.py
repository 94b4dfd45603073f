"""The shipped adapters on the real packaged models (slow: SmolLM2 / Gemma-3 weights)."""

from __future__ import annotations

import json

import pytest

from adapters.manifest import SHIPPED_DIR, check_adapter
from harness.api.system import ChatMessage, GenerationRequest

pytestmark = pytest.mark.integration


def question(item_id: str, text: str) -> GenerationRequest:
    return GenerationRequest(id=item_id, messages=(ChatMessage("user", f"Answer briefly.\n\nQuestion: {text}"),), max_new_tokens=24)


@pytest.mark.parametrize("kind", ["lora", "teacher", "lora-kd"])
def test_shipped_manifest_is_current(kind: str) -> None:
    manifest = check_adapter(SHIPPED_DIR / kind, kind)
    assert manifest["command"] == f"python -m harness train {kind}"
    assert manifest["steps"] > 0 and manifest["tokens_seen"] > 0
    size = (SHIPPED_DIR / kind / "adapter_model.safetensors").stat().st_size
    assert size < 8 * 2**20  # fp16, a few MB
    if kind == "lora-kd":
        assert manifest["kd_path"] == "cross-vocab" and 0 < manifest["aligned_fraction"] <= 1
        teacher = json.loads((SHIPPED_DIR / "teacher" / "manifest.json").read_text())
        assert manifest["teacher"]["adapter_sha256"] == teacher["adapter_sha256"]


def test_shipped_lora_generates_on_smollm2() -> None:
    from adapters.systems import lora
    from harness.systems.composition import vanilla

    requests = [question("a", "What does tRFC mean for DDR5?"), question("b", "What is setup time?")]
    adapted = lora(batch_size=2)
    results = adapted.generate(requests)
    assert [r.id for r in results] == ["a", "b"]
    assert all(r.text and r.completion_tokens > 0 for r in results)
    assert adapted.fingerprint["adapter"]["sha256"] == check_adapter(SHIPPED_DIR / "lora", "lora")["adapter_sha256"]
    plain = vanilla(batch_size=2)
    assert adapted.fingerprint_hash() != plain.fingerprint_hash()
    adapted.close()


def test_shipped_teacher_answers_with_a_plain_prompt() -> None:
    from adapters.systems import teacher

    system = teacher(batch_size=1)
    (result,) = system.generate([question("a", "What is the refresh interval tREFI?")])
    assert result.text and result.completion_tokens > 0
    system.close()

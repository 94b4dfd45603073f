"""What the generation cache keys on: a change that can change an answer changes the key, and
nothing else does."""

from __future__ import annotations

from typing import Any

from harness.api.system import ChatMessage, GenerationRequest
from harness.cache import cache_key
from harness.models.generation import GENERATION_CODE_VERSION, MODEL_LIBRARIES
from harness.systems.local_model import LocalModel


def request(**overrides: Any) -> GenerationRequest:
    fields: dict[str, Any] = {
        "id": "q1",
        "messages": (ChatMessage("user", "tREFI?"),),
        "item": {"id": "q1", "gold_passages": ["ddr5/refresh.md#trefi"]},
    }
    return GenerationRequest(**{**fields, **overrides})


FP = {"model": "m", "sha256": "abc"}


def test_greedy_answers_do_not_key_on_the_seed() -> None:
    assert cache_key(FP, request(seed=0)) == cache_key(FP, request(seed=7))


def test_sampled_answers_key_on_the_seed() -> None:
    assert cache_key(FP, request(seed=0, temperature=0.7)) != cache_key(FP, request(seed=7, temperature=0.7))


def test_item_fields_are_keyed_only_for_systems_that_read_them() -> None:
    moved = request(item={"id": "q1", "gold_passages": ["ddr5/refresh.md#trefi-and-trfc"]})
    assert cache_key(FP, request()) == cache_key(FP, moved)  # vanilla never looks at gold passages
    assert cache_key(FP, request(), ("gold_passages",)) != cache_key(FP, moved, ("gold_passages",))


def test_the_request_id_is_not_part_of_the_key() -> None:
    assert cache_key(FP, request(id="a")) == cache_key(FP, request(id="b"))


class Resolved:
    def fingerprint(self) -> dict[str, Any]:
        return {"model": "tiny", "sha256": "0" * 64}


def local(dtype: str) -> LocalModel:
    model = LocalModel("tiny", dtype=dtype, device="cpu")
    model._resolved = Resolved()  # type: ignore[assignment]
    return model


def test_local_fingerprint_resolves_dtype_and_names_code_and_library_versions() -> None:
    fp = dict(local("auto").fingerprint)
    assert fp["dtype"] == "float32" and fp["device"] == "cpu"
    assert fp["generation_code"] == GENERATION_CODE_VERSION
    assert set(fp["libraries"]) == set(MODEL_LIBRARIES)  # all four are installed with the harness
    assert local("auto").fingerprint == local("float32").fingerprint  # the same numbers, so the same answers
    assert local("bfloat16").fingerprint["dtype"] == "bfloat16"

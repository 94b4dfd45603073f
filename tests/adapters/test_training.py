"""LoRA, teacher and LoRA-KD training end to end on tiny in-test models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from adapters.config import load_spec
from adapters.manifest import check_adapter
from adapters.recipes import TrainRequest, run_sweep, train_adapter
from harness.api.errors import ArtifactError, DataError
from tests.adapters.conftest import TINY, assert_same_adapter_weights, write_corpus


def train(kind: str, output: Path, corpus: Path, *extra: str, **request: Any) -> dict[str, Any]:
    overrides = TINY + extra
    return train_adapter(TrainRequest(spec=load_spec(kind, None, overrides), output=output, corpus=corpus, overrides=overrides, quiet=True, **request))


def eval_ce(model: Any, blocks: Any) -> float:
    from adapters.recipes import ce_loss_fn

    with torch.no_grad():
        return float(ce_loss_fn(model, {"input_ids": blocks.input_ids, "index": torch.arange(blocks.n_blocks)}).ce)


def test_lora_lowers_loss_and_round_trips_through_plain_peft(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from adapters.data import pack_corpus

    out = tmp_path / "lora"
    manifest = train("lora", out, corpus, f"base={tiny_models['student']}")
    assert manifest["final_losses"]["loss"] < manifest["first_losses"]["loss"] - 0.3
    assert manifest["kd_path"] is None and manifest["teacher"] is None
    assert manifest["tokens_seen"] == 6 * manifest["corpus"]["sequences"] * 32  # 6 epochs of every sequence
    assert manifest["tokens_per_s"] > 0 and manifest["train_wall_s"] > 0
    assert manifest["corpus"]["documents"] == 3
    assert {"torch", "transformers", "peft"} <= set(manifest["packages"])
    assert {"adapter_config.json", "adapter_model.safetensors", "manifest.json"} <= {p.name for p in out.iterdir()}
    assert all(t.dtype == torch.float16 for t in load_file(str(out / "adapter_model.safetensors")).values())
    # plain PEFT, no harness code: the adapter loads and lowers the corpus loss
    base = AutoModelForCausalLM.from_pretrained(str(tiny_models["student"]))
    blocks = pack_corpus(corpus, AutoTokenizer.from_pretrained(str(tiny_models["student"])), 32)
    before = eval_ce(base, blocks)
    adapted = PeftModel.from_pretrained(base, str(out))
    after = eval_ce(adapted, blocks)
    assert after < before - 0.3
    assert check_adapter(out, "lora")["adapter_sha256"] == manifest["adapter_sha256"]


def test_same_vocab_kd_lowers_loss(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    manifest = train(
        "lora-kd", tmp_path / "kd", corpus, f"base={tiny_models['student']}", f"teacher={tiny_models['big_student']}", "teacher_adapter=none", "alpha=0.5"
    )
    assert manifest["kd_path"] == "same-vocab"
    assert manifest["aligned_fraction"] == 1.0
    assert manifest["final_losses"]["loss"] < manifest["first_losses"]["loss"] - 0.3
    assert manifest["final_losses"]["kd"] < manifest["first_losses"]["kd"]


def test_cross_vocab_kd_with_trained_teacher_lowers_loss_and_reuses_cache(
    tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import adapters.teacher_cache as teacher_cache

    teacher_dir = tmp_path / "teacher"
    teacher = train("teacher", teacher_dir, corpus, f"base={tiny_models['teacher']}")
    assert teacher["final_losses"]["loss"] < teacher["first_losses"]["loss"]
    kd_args = (f"base={tiny_models['student']}", f"teacher={tiny_models['teacher']}", f"teacher_adapter={teacher_dir}", "alpha=0.5")
    manifest = train("lora-kd", tmp_path / "kd", corpus, *kd_args)
    assert manifest["kd_path"] == "cross-vocab"
    assert 0.3 < manifest["aligned_fraction"] < 1.0
    assert manifest["final_losses"]["loss"] < manifest["first_losses"]["loss"] - 0.3
    assert manifest["final_losses"]["kd"] < manifest["first_losses"]["kd"]
    assert manifest["teacher"]["adapter_sha256"] == teacher["adapter_sha256"]
    assert len(list((cache / "teacher-cache").glob("*.safetensors"))) == 1
    # a sweep over alpha and temperature reuses the cached teacher: the teacher never runs again
    calls: list[int] = []
    original = teacher_cache.build_cache
    monkeypatch.setattr(teacher_cache, "build_cache", lambda *a, **k: calls.append(1) or original(*a, **k))
    overrides = TINY + kd_args + ("epochs=1",)
    request = TrainRequest(spec=load_spec("lora-kd", None, overrides), output=tmp_path / "unused", corpus=corpus, overrides=overrides, quiet=True)
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep-lora-kd.toml").write_text('[systems."lora-kd-alpha0.5-temperature5"]\nbase = "lora-kd"\nadapter = "earlier/point"\n')
    manifests, toml_path = run_sweep(request, ["alpha=0.2,0.8", "temperature=1"], tmp_path / "sweep")
    assert calls == []
    assert 'adapter = "earlier/point"' in toml_path.read_text()  # an earlier sweep's point stays registered
    assert [m["system"] for m in manifests] == ["lora-kd-alpha0.2-temperature1", "lora-kd-alpha0.8-temperature1"]
    assert [m["config"]["kd"]["alpha"] for m in manifests] == [0.2, 0.8]
    text = toml_path.read_text()
    assert '[systems."lora-kd-alpha0.8-temperature1"]' in text and 'base = "lora-kd"' in text
    for m in manifests:
        check_adapter(tmp_path / "sweep" / m["system"], "lora-kd")  # the recorded --set values rebuild the same config
        assert f"temperature=1 --output {tmp_path / 'sweep' / m['system']}" in m["command"]


def test_derived_data_is_trained_on_and_recorded(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    import json

    from adapters.derived import derive_corpus, write_derived
    from harness.corpus import content_hash

    plain = train("lora", tmp_path / "plain", corpus, f"base={tiny_models['student']}", "epochs=1")
    assert plain["derived"] is None
    manifest = train("lora", tmp_path / "derived", corpus, f"base={tiny_models['student']}", "epochs=1", "derived_data=corpus")
    derived = manifest["derived"]
    assert derived["source"] == "corpus" and derived["examples"] == sum(derived["counts"].values()) > 0 and derived["tokens"] > 0
    assert manifest["corpus"]["tokens"] == plain["corpus"]["tokens"]  # corpus text only
    assert manifest["corpus"]["sequences"] > plain["corpus"]["sequences"]  # the derived examples are packed too
    check_adapter(tmp_path / "derived", "lora")
    # from a file written by `corpus derive`: recorded by path and hash; an edited file makes the adapter stale
    path = tmp_path / "derived.jsonl"
    write_derived(path, derive_corpus(corpus), content_hash(corpus), seed=0)
    from_file = train("lora", tmp_path / "from-file", corpus, f"base={tiny_models['student']}", "epochs=1", f"derived_data={path}")
    assert from_file["derived"]["sha256"] == derived["sha256"] and from_file["derived"]["source"] == str(path)
    lines = path.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["answer"] = "something else"
    path.write_text("\n".join([lines[0], json.dumps(edited), *lines[2:]]) + "\n")
    with pytest.raises(ArtifactError, match="stale adapter: derived data .* changed"):
        check_adapter(tmp_path / "from-file", "lora")
    write_derived(path, derive_corpus(corpus), "another-corpus", seed=0)
    with pytest.raises(DataError, match="derived from another corpus .*corpus derive --corpus"):
        train("lora", tmp_path / "other", corpus, f"base={tiny_models['student']}", "epochs=1", f"derived_data={path}")


def test_held_out_evaluations_are_recorded_and_the_best_adapter_kept(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    from adapters.heldout import bits_per_byte, load_heldout
    from harness.api.errors import ConfigError

    heldout = write_corpus(
        tmp_path / "heldout",
        repeat=1,
        docs={"notes.md": ("Notes", "ddr5", "# Notes\n\nThe refresh interval halves above 85 C. Setup slack is required time minus arrival time.\n")},
    )
    (heldout / "plain.txt").write_text("Cells leak charge and must be refreshed.\n")
    args = (f"base={tiny_models['student']}", f"heldout={heldout}", "patience=2", "epochs=4")
    manifest = train("lora", tmp_path / "lora", corpus, *args)
    record = manifest["heldout"]
    assert record["documents"] == 2 and record["bytes"] > 0 and record["tokens"] > 0
    assert [e["epoch"] for e in record["evaluations"]][:2] == [1.0, 2.0] and all(e["bpb"] > 0 for e in record["evaluations"])
    assert record["best_bpb"] == min(e["bpb"] for e in record["evaluations"]) and manifest["adapter_step"] == record["best_step"]
    assert manifest["epochs"] == 4 and 0 < manifest["epochs_completed"] <= 4
    check_adapter(tmp_path / "lora", "lora")
    # the saved adapter is the best evaluation's: its held-out bits per byte is the recorded best (fp16 rounding aside)
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny_models["student"])), str(tmp_path / "lora"))
    measured = bits_per_byte(model, load_heldout(heldout, AutoTokenizer.from_pretrained(str(tiny_models["student"])), 32), 4)
    assert measured == pytest.approx(record["best_bpb"], rel=0.01)
    # a missing folder: an error naming the field when early stopping needs it, a warning otherwise
    with pytest.raises(ConfigError, match=r"heldout='.*missing': no such folder; early stopping \(patience=2\)"):
        train("lora", tmp_path / "x", corpus, f"base={tiny_models['student']}", f"heldout={tmp_path / 'missing'}", "patience=2")
    quiet = train("lora", tmp_path / "y", corpus, f"base={tiny_models['student']}", f"heldout={tmp_path / 'missing'}", "patience=0", "epochs=1")
    assert quiet["heldout"] is None and quiet["stopped_early"] is False


def test_missing_teacher_cache_is_an_error_with_the_fix(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as info:
        train(
            "lora-kd",
            tmp_path / "kd",
            corpus,
            f"base={tiny_models['student']}",
            f"teacher={tiny_models['big_student']}",
            "teacher_adapter=none",
            cached_teacher_only=True,
        )
    message = str(info.value)
    assert "no teacher cache" in message and "python -m harness train lora-kd" in message


def test_corrupt_teacher_cache_is_refused(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    args = (f"base={tiny_models['student']}", f"teacher={tiny_models['big_student']}", "teacher_adapter=none", "epochs=1")
    train("lora-kd", tmp_path / "kd", corpus, *args)
    (cached,) = (cache / "teacher-cache").glob("*.safetensors")
    cached.write_bytes(b"not a safetensors file")
    with pytest.raises(ArtifactError, match="corrupt teacher cache .*delete the file and rerun"):
        train("lora-kd", tmp_path / "kd2", corpus, *args)


def test_interrupted_training_resumes_from_its_checkpoint(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    args = (f"base={tiny_models['student']}", "checkpoint_every=2", "epochs=2")
    straight = train("lora", tmp_path / "straight", corpus, *args)

    def stop_at_five(step: int, record: dict) -> None:
        if step == 5:
            raise KeyboardInterrupt

    request = TrainRequest(spec=load_spec("lora", None, TINY + args), output=tmp_path / "resumed", corpus=corpus, overrides=TINY + args, quiet=True)
    with pytest.raises(KeyboardInterrupt):
        train_adapter(request, callback=stop_at_five)
    assert not (tmp_path / "resumed" / "manifest.json").exists()
    resumed = train("lora", tmp_path / "resumed", corpus, *args)
    assert resumed["resumed_from_step"] == 4
    assert resumed["steps"] == straight["steps"] and resumed["tokens_seen"] == straight["tokens_seen"]
    assert_same_adapter_weights(tmp_path / "straight", tmp_path / "resumed")
    assert not [p for p in (cache / "train-checkpoints").rglob("*") if p.is_file()]  # cleared after success


def test_stale_and_mismatched_adapters_are_refused_with_the_retrain_command(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    import json

    out = tmp_path / "lora"
    train("lora", out, corpus, f"base={tiny_models['student']}", "epochs=1")
    check_adapter(out, "lora")
    with pytest.raises(ArtifactError, match="holds a 'lora' adapter, not 'teacher'"):
        check_adapter(out, "teacher")
    with pytest.raises(ArtifactError, match=f"trained for base model '{tiny_models['student']}', not 'smollm2-135m-instruct'"):
        check_adapter(out, "lora", model="smollm2-135m-instruct")
    # the recorded config no longer matches what the recorded command builds
    manifest_path = out / "manifest.json"
    original = manifest_path.read_text()
    edited = json.loads(original)
    edited["config"]["lora"]["rank"] = 64
    manifest_path.write_text(json.dumps(edited))
    with pytest.raises(ArtifactError, match=r"config changed since training \(lora.rank: 64 -> 4\); retrain with: python -m harness train lora"):
        check_adapter(out, "lora")
    manifest_path.write_text(original)
    # the corpus changed
    (corpus / "ddr5" / "refresh.md").write_text((corpus / "ddr5" / "refresh.md").read_text() + "\nA new paragraph.\n")
    with pytest.raises(ArtifactError) as info:
        check_adapter(out, "lora")
    message = str(info.value)
    assert (
        "stale adapter: corpus" in message and "retrain with: python -m harness train lora --corpus" in message and "--set" in message and "--output" in message
    )
    assert "\n" not in message


def test_corrupt_or_modified_safetensors_are_refused(tiny_models: dict[str, Path], corpus: Path, cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "lora"
    train("lora", out, corpus, f"base={tiny_models['student']}", "epochs=1")
    weights = out / "adapter_model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(b"\x00" * 64)
    with pytest.raises(ArtifactError, match="corrupt safetensors .*retrain with: python -m harness train lora"):
        check_adapter(out, "lora")
    from safetensors.torch import load_file, save_file

    weights.write_bytes(good)
    tensors = load_file(str(weights))
    first = sorted(tensors)[0]
    tensors[first] = tensors[first] + 1
    save_file(tensors, str(weights))
    with pytest.raises(ArtifactError, match="do not match manifest.json"):
        check_adapter(out, "lora")


def test_missing_adapter_names_the_training_command(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no adapter here"):
        check_adapter(tmp_path / "nothing", "lora")


def test_empty_or_tiny_corpus_is_a_data_error(tiny_models: dict[str, Path], cache: Path, tmp_path: Path) -> None:
    empty = write_corpus(tmp_path / "empty", docs={"a.md": ("A", "x", "")})
    with pytest.raises(DataError, match="every document body is empty"):
        train("lora", tmp_path / "out", empty, f"base={tiny_models['student']}")
    with pytest.raises(DataError, match="no .md documents"):
        (tmp_path / "none").mkdir()
        train("lora", tmp_path / "out", tmp_path / "none", f"base={tiny_models['student']}")
    tiny = write_corpus(tmp_path / "tiny", repeat=1, docs={"a.md": ("A", "x", "Too short.")})
    with pytest.raises(DataError, match="fewer than one sequence of 32; add documents or lower seq_len"):
        train("lora", tmp_path / "out", tiny, f"base={tiny_models['student']}")


def test_checkpoints_are_safetensors_and_json_and_a_damaged_one_restarts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import json
    import logging

    from adapters.trainer import CHECKPOINT, _load_checkpoint, _save_checkpoint

    def setup(seed: int) -> tuple[Any, Any, Any]:
        torch.manual_seed(seed)
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
        model[0].bias.requires_grad_(False)  # frozen parameters are not saved
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.01)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
        return model, optimizer, scheduler

    model, optimizer, scheduler = setup(0)
    for _ in range(3):
        model(torch.randn(5, 4)).pow(2).sum().backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    state = {"step": 3, "tokens_seen": 60, "elapsed_s": 1.5, "history": [{"step": 3, "loss": 0.5}]}
    path = tmp_path / "ckpt" / CHECKPOINT
    _save_checkpoint(path, "key", model, optimizer, scheduler, dict(state))
    _save_checkpoint(path, "key", model, optimizer, scheduler, dict(state, step=4))  # replaces step 3's file
    assert {p.name for p in path.parent.iterdir()} == {CHECKPOINT, "checkpoint-step0000004.safetensors"}
    assert json.loads(path.read_text())["state"]["step"] == 4

    fresh, fresh_opt, fresh_sched = setup(1)
    restored: dict[str, Any] = {}
    assert _load_checkpoint(path, "key", fresh, fresh_opt, fresh_sched, restored) == 4
    assert restored["history"] == state["history"]
    for name, value in model.state_dict().items():
        if name != "0.bias":
            assert torch.equal(fresh.state_dict()[name], value), name
    assert not torch.equal(fresh[0].bias, model[0].bias)
    saved_moments = [s["exp_avg"] for s in optimizer.state_dict()["state"].values()]
    loaded_moments = [s["exp_avg"] for s in fresh_opt.state_dict()["state"].values()]
    assert all(torch.equal(a, b) for a, b in zip(saved_moments, loaded_moments, strict=True))
    assert fresh_sched.state_dict()["last_epoch"] == scheduler.state_dict()["last_epoch"]

    assert _load_checkpoint(path, "another-config", *setup(1), {}) is None
    weights = path.parent / "checkpoint-step0000004.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8])
    with caplog.at_level(logging.WARNING):
        assert _load_checkpoint(path, "key", *setup(1), {}) is None
    assert "ignoring unreadable checkpoint" in caplog.text and "sha256" in caplog.text

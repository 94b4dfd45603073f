"""``python -m harness train {lora,teacher,lora-kd}``: train an adapter on the corpus.

python -m harness train teacher                         # -> adapters/shipped/teacher
python -m harness train lora                            # -> adapters/shipped/lora
python -m harness train lora-kd                         # -> adapters/shipped/lora-kd (needs the teacher)
python -m harness train lora-kd --sweep alpha=0.5,0.8,0.95 temperature=1,2,5
accelerate launch -m harness train lora --device auto   # DDP on every visible GPU
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a LoRA, teacher or LoRA-KD adapter",
        description="Train an adapter on the corpus; writes a PEFT folder + manifest.json. A killed run resumes when started again.",
    )
    p.add_argument("kind", choices=["lora", "teacher", "lora-kd"], help="what to train")
    p.add_argument("--config", type=Path, default=None, help="TOML with [lora], [teacher], [kd] tables (e.g. configs/paper.toml)")
    p.add_argument(
        "--set", dest="overrides", nargs="+", action="extend", default=[], metavar="KEY=VALUE", help="override config fields, e.g. --set rank=16 alpha=0.8"
    )
    p.add_argument("--base", default=None, help="base model to adapt (same as --set base=NAME)")
    p.add_argument(
        "--teacher", default=None, metavar="ADAPTER_DIR", help="lora-kd: teacher adapter folder (same as --set teacher_adapter=DIR; 'none' = bare teacher)"
    )
    p.add_argument("--corpus", type=Path, default=None, help="corpus folder (default benchmarks/corpus)")
    p.add_argument(
        "--output", type=Path, default=None, help="adapter folder (default adapters/shipped/<kind>; sweeps: the folder holding one folder per point)"
    )
    p.add_argument("--sweep", nargs="+", default=None, metavar="KEY=V1,V2", help="train one adapter per grid point, e.g. --sweep alpha=0.5,0.8 temperature=1,2")
    p.add_argument("--cached-teacher-only", action="store_true", help="lora-kd: fail instead of running the teacher when its cache is missing")
    p.add_argument("--device", default="auto", help="auto (GPU when visible), cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from adapters.config import load_spec
    from adapters.manifest import display_path, shipped_dir
    from adapters.recipes import TrainRequest, run_sweep, train_adapter
    from harness.api.errors import ConfigError
    from harness.benchmark import DEFAULT_CORPUS

    overrides = list(args.overrides)
    if args.base:
        overrides.append(f"base={args.base}")
    if args.teacher:
        if args.kind != "lora-kd":
            raise ConfigError(f"--teacher applies to `train lora-kd`, not `train {args.kind}`")
        overrides.append(f"teacher_adapter={display_path(args.teacher) if args.teacher.lower() != 'none' else 'none'}")
    spec = load_spec(args.kind, args.config, overrides)
    corpus = args.corpus or DEFAULT_CORPUS
    request = TrainRequest(
        spec=spec,
        output=args.output or shipped_dir(args.kind),
        corpus=corpus,
        config_file=display_path(args.config) if args.config else None,
        overrides=tuple(overrides),
        device=args.device,
        quiet=args.quiet,
        cached_teacher_only=args.cached_teacher_only,
    )
    if args.sweep:
        root = args.output or shipped_dir(args.kind).parent
        manifests, toml_path = run_sweep(request, args.sweep, root)
        for manifest in manifests:
            _report(manifest)
        print(
            f"sweep systems: python -m harness run --system-config {display_path(toml_path)} "
            f"--systems {args.kind},{','.join(m.get('system', '') for m in manifests)}"
        )
        return 0
    manifest = train_adapter(request)
    _report(manifest)
    return 0


def _report(manifest: dict) -> None:
    if not manifest:  # non-main processes under accelerate launch
        return
    losses = json.dumps(manifest.get("final_losses", {}))
    kd = f", KD {manifest['kd_path']} (aligned {manifest['aligned_fraction']:.1%})" if manifest.get("kd_path") else ""
    print(
        f"{manifest['system']}: {manifest['steps']} steps, {manifest['tokens_seen']} tokens, "
        f"{manifest['train_wall_s']:.0f} s, {manifest['tokens_per_s']:.0f} tok/s, final {losses}{kd}"
    )
    heldout = manifest.get("heldout")
    if heldout and heldout.get("evaluations"):
        stop = "stopped early" if manifest.get("stopped_early") else "ran every epoch"
        print(
            f"  {manifest.get('epochs_completed')} of {manifest.get('epochs')} epochs ({stop}); held-out bits/byte "
            f"{' '.join(str(e['bpb']) for e in heldout['evaluations'])}; kept step {heldout['best_step']} ({heldout['best_bpb']})"
        )
    print(f"  rebuild with: {manifest['command']}")

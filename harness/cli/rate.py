"""``python -m harness rate RUN_DIR``: serve the blind pairwise rating page for a run."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rate",
        help="rate a run's answers in a browser (blind pairwise)",
        description="Serve a local page where raters compare two anonymous answers at a time; votes go to RUN_DIR/preferences.jsonl as they are cast.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder written by `run`")
    p.add_argument("--systems", default=None, help="comma list of systems to compare (default: every system in the run)")
    p.add_argument("--rater", default=None, help="open the page directly for this rater name")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from harness.api.errors import ConfigError
    from harness.preferences.server import serve

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be in 0..65535, got {args.port}")
    if not _is_loopback(args.host):
        print(f"warning: listening on {args.host}: anyone who can reach this address can read the answers and vote", file=sys.stderr)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()] if args.systems else None

    def ready(url: str) -> None:
        print(f"rating page: {url}  (votes -> {args.run_dir / 'preferences.jsonl'}; Ctrl-C stops)", flush=True)

    try:
        serve(args.run_dir, host=args.host, port=args.port, systems=systems, default_rater=args.rater, ready=ready)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); pick another --port") from None
    except KeyboardInterrupt:
        print("stopped; every vote cast is saved", file=sys.stderr)
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

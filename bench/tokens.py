#!/usr/bin/env python3
"""Bearer GETs with many live tokens: does the verified-token cache hold up?

Starts the release `hubgate serve` on SQLite (pinned to core 0, wrk to core 1),
mints `--tokens` access tokens with client_credentials, then runs, in
interleaved rounds, GET /api/v1/hubs/{id} with one token (every request a
cache hit) and with a token drawn at random from all of them (the cache holds
131,072 per node; past that a miss costs an Ed25519 verification). Prints
req/s per round and the ratio of many to one, median (min-max).

Usage: cargo build --release -p hubgate && python3 bench/tokens.py [--tokens N]
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the harness: Hubgate, wrk, interleave)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=200_000)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hubgate-tokens-") as tmp:
        hub = run.Hubgate("hubgate SQLite", Path(tmp) / "sqlite", [], {}, 18294)
        try:
            tokens = Path(tmp) / "tokens.txt"
            while not tokens.exists() or sum(1 for _ in tokens.open()) < args.tokens:
                run.wrk(hub.token_url, "collect.lua",
                        {"BODY": hub.cc_body, "OUT": str(tokens), "FIELD": "access_token"}, 64, 5)
            lines = tokens.read_text().split()[: args.tokens]
            tokens.write_text("\n".join(lines) + "\n")
            run.log(f"  minted {len(lines)} access tokens")
            url = f"{hub.base}/api/v1/hubs/{hub.hubs[0]}"
            # "limit" marks the baseline the other target's ratio is taken against.
            run.interleave([("limit: one token", url, "get.lua", {"TOKEN": hub.access}, None),
                            (f"{len(lines):,} tokens at random", url, "get-many.lua", {"TOKENS": str(tokens)}, None)],
                           args)
            print(f"RSS after: {hub.server.rss_now_mb():.1f} MB, peak {hub.server.rss_peak_mb():.1f} MB")
        finally:
            hub.stop()


if __name__ == "__main__":
    main()

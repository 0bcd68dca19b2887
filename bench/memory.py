#!/usr/bin/env python3
"""Where a SQLite hubgate's memory goes, stage by stage of the bench's path.

Starts the release `hubgate serve` on SQLite (pinned to core 0, wrk to core 1),
then walks the stages `scripts/bench` puts it through: idle, client_credentials
at 64 and 256 connections, bearer GETs and hub lists, 10 thousand and then
1 million stored refresh-token families with a refresh run after each. After
every stage it prints VmRSS and VmHWM (the peak so far) and splits the resident
memory by mapping, from /proc/PID/smaps:

  code      the binary's own pages (text, rodata, data)
  libs      shared libraries
  heap      anonymous memory: malloc's heap and arenas, caches, buffers
  stacks    thread stacks
  sqlite    the SQLite files mapped in (the WAL index, `hubgate.db-shm`)
  other     the rest

Usage: cargo build --release -p hubgate && python3 bench/memory.py [--duration S]
"""
import argparse
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the harness: Server, Hubgate, wrk, sqlite_families)


def breakdown(pid):
    """Resident kB per kind of mapping, from /proc/PID/smaps."""
    kinds = {"code": 0, "libs": 0, "heap": 0, "stacks": 0, "sqlite": 0, "other": 0}
    kind = "other"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        header = re.match(r"^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \d+\s*(.*)$", line)
        if header:
            name = header.group(2)
            if name.endswith("/hubgate"):
                kind = "code"
            elif ".so" in name:
                kind = "libs"
            elif name in ("", "[heap]"):
                kind = "heap"
            elif name.startswith("[stack"):
                kind = "stacks"
            elif "hubgate.db" in name:
                kind = "sqlite"
            else:
                kind = "other"
            continue
        rss = re.match(r"^Rss:\s+(\d+) kB", line)
        if rss:
            kinds[kind] += int(rss.group(1))
    return kinds


def thread_count(pid):
    return int(re.search(r"Threads:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))


def report(stage, server):
    pid = server.proc.pid
    parts = breakdown(pid)
    line = "  ".join(f"{k} {v / 1024:5.1f}" for k, v in parts.items())
    print(f"{stage:<38} rss {server.rss_now_mb():6.1f}  peak {server.rss_peak_mb():6.1f}  | {line}"
          f"  | threads {thread_count(pid)}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5)
    args = parser.parse_args()
    args.reps = 1
    args.collect = args.duration
    with tempfile.TemporaryDirectory(prefix="hubgate-memory-") as tmp:
        hub = run.Hubgate("hubgate SQLite", Path(tmp) / "sqlite", [], {}, 18292)
        try:
            fill = run.SqliteFamilies(hub)
            print("MB per stage (VmRSS, VmHWM) and resident MB by mapping:")
            report("idle, integration and 201 hubs", hub.server)
            for conns in (64, 256):
                name, url, script, env, _ = hub.target("client_credentials")
                run.wrk(url, script, env, conns, args.duration)
                report(f"client_credentials, {conns} conns", hub.server)
            for scenario in ("GET /api/v1/hubs/{id}", "GET /api/v1/hubs (50)", "GET /api/v1/hubs (200)",
                             "introspection"):
                name, url, script, env, _ = hub.target(scenario)
                run.wrk(url, script, env, 64, args.duration)
                report(scenario, hub.server)
            for families in (10_000, 1_000_000):
                fill.fill(families)
                report(f"{families:,} families stored", hub.server)
                name, url, script, env, per_rep = hub.refresh_target("refresh", args)
                run.wrk(url, script, {**env, **per_rep(0)}, 64, args.duration)
                report(f"refresh_token, {families:,} families", hub.server)
        finally:
            hub.stop()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Filtered hub lists over 100,000 hubs in one account.

Starts the release `hubgate serve` on SQLite (pinned to core 0, wrk to core 1),
writes 100,000 hubs straight into its database (1 in 100 online; 1 in 1,000 in
"Room 7"), then runs in interleaved rounds GET /api/v1/hubs?limit=50
unfiltered, with online=true and with room=Room 7, and prints req/s with the
ratio of each filtered page to the unfiltered one, median (min-max).

Usage: cargo build --release -p hubgate && python3 bench/filtered.py
"""
import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the harness: Hubgate, wrk, interleave)

tmp = Path(tempfile.mkdtemp(prefix="filtered-"))
h = run.Hubgate("hubgate SQLite", tmp / "sqlite", [], {}, 18296)
try:
    db = sqlite3.connect(tmp / "sqlite" / "hubgate.db", timeout=60)
    now = int(time.time())
    # UUIDv7-like ordered ids: a time prefix and a counter, as text sorting by creation.
    rows = []
    for i in range(100_000):
        hid = f"hub_0{now:011x}{i:020x}"[:36]
        room = "Room 7" if i % 1000 == 7 else f"Room {i % 5000}"
        rows.append((hid, h.account, f"FILL-{i:06}", "hub", "m", "1.0", f"Fill {i}", room, 1 if i % 100 == 0 else 0, None, "{}", "{}", now, now))
    db.executemany("INSERT INTO hubs (id, account_id, serial, kind, model, firmware, name, room, online, last_seen, state, desired, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    run.log("  100,000 hubs stored")
    a = argparse.Namespace(reps=3, duration=5)
    base = h.base + "/api/v1/hubs?limit=50"
    run.interleave([("limit: unfiltered page of 50", base, "get.lua", {"TOKEN": h.access}, None),
                    ("online=true (1 in 100 online)", base + "&online=true", "get.lua", {"TOKEN": h.access}, None),
                    ("room=Room 7 (1 in 1,000)", base + "&room=Room%207", "get.lua", {"TOKEN": h.access}, None)], a)
finally:
    h.stop()
    shutil.rmtree(tmp, ignore_errors=True)

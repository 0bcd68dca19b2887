#!/usr/bin/env python3
"""Events for integrations, measured: webhook throughput and latency, and
event streams held by one node. A release `hubgate serve` on SQLite pinned to
core 0; the load and the receivers (this process, and `hubgate simulate`)
pinned to core 1.

  1. throughput: `hubgate simulate --hubs N` reports (each report that
     changes a key is a `hub.state.reported` event, written with the report);
     one webhook endpoint takes every event. Events written per second (the
     store's count) and webhooks delivered per second (this process's
     receiver) over the load, then how long the backlog takes to drain.
  2. latency: PATCH a hub's desired settings through the API, one at a time;
     time from sending the PATCH to the `hub.desired.changed` webhook
     arriving; p50 and p99.
  3. streams: N `GET /api/v1/events` streams held open; the server's RSS
     before and with them, and the time from a PATCH to each stream getting
     its event.

Usage: bench/events.py [--hubs 1000] [--report-every 1 0.5 0.25] [--seconds 20]
                       [--samples 200] [--streams 2000]
Needs: cargo build --release -p hubgate.
"""
import argparse
import asyncio
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devices import HUBGATE, LOAD_CORE, Node, admin, free_port, log, pct, token  # noqa: E402


class Sink:
    """A webhook receiver on this process's event loop: keep-alive HTTP/1.1,
    204 to everything, each delivery's arrival time kept by event type."""

    def __init__(self, loop):
        self.loop = loop
        self.arrivals = []  # (time, event)
        self.port = free_port()
        asyncio.run_coroutine_threadsafe(self._start(), loop).result()

    async def _start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
                body = await reader.readexactly(length)
                self.arrivals.append((time.time(), body))
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def count(self):
        return len(self.arrivals)


def api(url, bearer, method, path, body=None):
    request = urllib.request.Request(f"{url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {bearer}",
                                              "Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request).read() or b"null")


def events_written(data_dir, after):
    with sqlite3.connect(f"file:{data_dir}/hubgate.db?mode=ro", uri=True) as db:
        return db.execute("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events WHERE seq > ?", (after,)).fetchone()


def throughput(node, data, sink, hubs, report_every, seconds):
    """One load: events written and webhooks delivered per second over the
    middle of it, the backlog when the load stops, and how fast that drains
    (the server and the receiver alone then)."""
    log(f"== throughput: {hubs} simulated hubs, a report every {report_every} s each, {seconds} s")
    start_seq = events_written(data, 0)[1]
    sim = subprocess.Popen(
        ["taskset", "-c", LOAD_CORE, str(HUBGATE), "simulate", "--data-dir", str(data),
         "--mqtt", f"127.0.0.1:{node.mqtt_port}", "--hubs", str(hubs), "--report-every", str(report_every),
         "--drops-per-hour", "0", "--duration", str(seconds)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    delivered_at_start = sink.count()
    samples = []
    began = time.time()
    while sim.poll() is None:
        time.sleep(1)
        written, _ = events_written(data, start_seq)
        samples.append((time.time() - began, written, sink.count() - delivered_at_start))
    load_end = time.time()
    written_at_end, delivered_at_end = samples[-1][1], samples[-1][2]
    # Let the devices' disconnects (hub.offline events) be written too.
    time.sleep(1)
    written, _ = events_written(data, start_seq)
    deadline = time.time() + 300
    while sink.count() - delivered_at_start < written and time.time() < deadline:
        time.sleep(0.05)
    drained = time.time() - load_end
    delivered = sink.count() - delivered_at_start
    middle = [s for s in samples if seconds * 0.25 <= s[0] <= seconds * 0.9]
    (t0, w0, d0), (t1, w1, d1) = middle[0], middle[-1]
    backlog = written_at_end - delivered_at_end
    result = {"hubs": hubs, "report_every_s": report_every,
              "written_per_s": (w1 - w0) / (t1 - t0), "delivered_per_s": (d1 - d0) / (t1 - t0),
              "events_written": written, "webhooks_delivered": delivered,
              "backlog_at_load_end": backlog, "drain_s": drained,
              "drain_per_s": (written - delivered_at_end) / drained if drained > 0 else None}
    log(f"   middle of the load: written {result['written_per_s']:.0f}/s, delivered {result['delivered_per_s']:.0f}/s; "
        f"backlog at the end {backlog}, drained in {drained:.1f} s ({result['drain_per_s'] or 0:.0f}/s); "
        f"{written} written, {delivered} delivered")
    return result


def latency(node, bearer, sink, hub, samples):
    log(f"== latency: {samples} PATCHes of desired settings, one at a time")
    version = api(node.url, bearer, "GET", f"/api/v1/hubs/{hub}/state")["desired_version"]
    times = []
    for i in range(samples):
        version += 1
        seen = len(sink.arrivals)
        started = time.time()
        api(node.url, bearer, "PATCH", f"/api/v1/hubs/{hub}", {"desired": {"mtrmode": i % 2 == 0}})
        deadline = started + 5
        arrived = None
        while arrived is None and time.time() < deadline:
            for at, body in sink.arrivals[seen:]:
                event = json.loads(body)
                if event["type"] == "hub.desired.changed" and event["data"]["desired_version"] == version:
                    arrived = at
            time.sleep(0.0002)
        if arrived is None:
            raise RuntimeError(f"desired version {version} never arrived")
        times.append(arrived - started)
    result = {"samples": samples, "p50_ms": pct(times, 50) * 1000, "p99_ms": pct(times, 99) * 1000,
              "mean_ms": statistics.mean(times) * 1000}
    log(f"   change -> webhook: p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms")
    return result


async def open_stream(port, bearer, arrivals, index, ready):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bearer}\r\n"
                  "Accept: text/event-stream\r\n\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n")[0]:
        raise RuntimeError(head.decode())
    ready.append(index)
    while True:
        line = await reader.readline()
        if not line:
            return
        if line.startswith(b"data:") or b"\ndata:" in line:
            arrivals.append((time.time(), index))


def streams(node, bearer, loop, hub, count):
    log(f"== streams: {count} event streams held open")
    time.sleep(2)
    before = node.rss_kib()
    arrivals, ready = [], []
    for i in range(count):
        asyncio.run_coroutine_threadsafe(open_stream(node.http_port, bearer, arrivals, i, ready), loop)
    deadline = time.time() + 120
    while len(ready) < count and time.time() < deadline:
        time.sleep(0.1)
    if len(ready) < count:
        raise RuntimeError(f"only {len(ready)} of {count} streams opened")
    time.sleep(3)
    held = node.rss_kib()
    rounds = []
    for i in range(5):
        arrivals.clear()
        started = time.time()
        api(node.url, bearer, "PATCH", f"/api/v1/hubs/{hub}", {"desired": {"mtrport": 1 + i % 4}})
        while len(arrivals) < count and time.time() < started + 30:
            time.sleep(0.005)
        got = sorted(at - started for at, _ in arrivals)
        if len(got) < count:
            raise RuntimeError(f"only {len(got)} of {count} streams got the event")
        rounds.append(got)
        time.sleep(0.5)
    every = [t for got in rounds for t in got]
    result = {"streams": count, "rss_before_mib": before / 1024, "rss_with_streams_mib": held / 1024,
              "bytes_per_stream": (held - before) * 1024 / count,
              "fan_out_p50_ms": pct(every, 50) * 1000, "fan_out_p99_ms": pct(every, 99) * 1000,
              "fan_out_last_ms": statistics.median(max(got) for got in rounds) * 1000}
    log(f"   RSS {before / 1024:.1f} -> {held / 1024:.1f} MiB ({result['bytes_per_stream'] / 1024:.1f} KiB each); "
        f"a change reached the streams in p50 {result['fan_out_p50_ms']:.1f} ms, p99 {result['fan_out_p99_ms']:.1f} ms, "
        f"the last (median of 5 rounds) {result['fan_out_last_ms']:.1f} ms")
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hubs", type=int, default=1000)
    parser.add_argument("--report-every", type=float, nargs="+", default=[1.0, 0.5, 0.25])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--streams", type=int, default=2000)
    args = parser.parse_args()
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        node = Node(data, ["--no-demo", "--webhook-allow-private"])
        account = re.search(r"acc_[0-9a-f]{32}", node.banner).group(0)
        integration = admin(data, "integration", "create", "--account", account, "--name", "Bench",
                            "--redirect-uri", "https://example.com/cb", "--scope", "hubs:read hubs:write")
        sink = Sink(loop)
        admin(data, "webhook", "create", integration["client_id"], "--url", f"http://127.0.0.1:{sink.port}/",
              "--allow-private")
        bearer = token(node.url, integration["client_id"], integration["client_secret"])
        results["throughput"] = [throughput(node, data, sink, args.hubs, every, args.seconds)
                                 for every in args.report_every]
        hub = api(node.url, bearer, "GET", "/api/v1/hubs?limit=1")["items"][0]["id"]
        results["latency"] = latency(node, bearer, sink, hub, args.samples)
        results["streams"] = streams(node, bearer, loop, hub, args.streams)
        print(json.dumps(results, indent=2), flush=True)
        node.stop()


if __name__ == "__main__":
    main()

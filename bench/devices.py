#!/usr/bin/env python3
"""The device listener's benchmark: held connections, report ingestion, and
desired-state latency, with a release `hubgate serve` pinned to core 0 and
the load (`hubgate simulate`, paho-mqtt) on core 1.

  1. connections: `hubgate simulate --hubs N` holds N devices connected (no
     drops, a report every 5 minutes); the server's RSS before and with
     them gives the memory per connection.
  2. ingestion: 1,000 devices report as fast as simulate drives them (a
     report every --report-interval s each); reports accepted per second
     from the server's own counter over the middle of the run, and after the
     run the stored reported_version total against the accepted count (every
     accepted report persisted, coalesced or not).
  3. latency, one node: a paho-mqtt device on the server; PATCH desired over
     the API, time until the device receives that version; p50 and p99.
  4. latency across nodes (with --postgres): two nodes on one PostgreSQL
     database, the device on node 1, the PATCH on node 2.

Usage: bench/devices.py [--devices 10000] [--postgres] [--samples 200]
Needs: cargo build --release -p hubgate; tests/clients/python/.venv (paho-mqtt).
"""
import argparse
import base64
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

ROOT = Path(__file__).resolve().parent.parent
HUBGATE = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "hubgate"
PYTHON = ROOT / "tests/clients/python/.venv/bin/python"
SERVER_CORE, LOAD_CORE = "0", "1"


def log(message):
    print(message, file=sys.stderr, flush=True)


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, data_dir, extra=(), env=None):
        self.http_port, self.mqtt_port = free_port(), free_port()
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, str(HUBGATE), "serve", "--listen", f"127.0.0.1:{self.http_port}",
             "--mqtt-listen", f"127.0.0.1:{self.mqtt_port}", "--data-dir", str(data_dir), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "HUBGATE_LOG": "warn", **(env or {})})
        self.banner = ""
        for line in self.proc.stdout:
            self.banner += line
            if line.startswith("Stop with"):
                break
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http_port}"

    def rss_kib(self):
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))

    def metric(self, name):
        text = urllib.request.urlopen(f"{self.url}/metrics").read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def admin(data_dir, *args, env=None, store=()):
    out = subprocess.run([str(HUBGATE), "admin", "--data-dir", str(data_dir), "--output", "json", *store, *args],
                         capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True)
    return json.loads(out.stdout)


def simulate(data_dir, node, hubs, report_every, seconds, env=None, store=()):
    return subprocess.Popen(
        ["taskset", "-c", LOAD_CORE, str(HUBGATE), "simulate", "--data-dir", str(data_dir), *store,
         "--mqtt", f"127.0.0.1:{node.mqtt_port}", "--hubs", str(hubs), "--report-every", str(report_every),
         "--drops-per-hour", "0", "--duration", str(seconds)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})})


def wait_until(what, check, limit):
    deadline = time.time() + limit
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


def token(url, client_id, secret):
    body = f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}".encode()
    reply = urllib.request.urlopen(urllib.request.Request(f"{url}/identity/oauth/v2/token", data=body))
    return json.loads(reply.read())["access_token"]


def patch(url, bearer, hub, desired):
    request = urllib.request.Request(f"{url}/api/v1/hubs/{hub}", method="PATCH",
                                     data=json.dumps({"desired": desired}).encode(),
                                     headers={"Authorization": f"Bearer {bearer}",
                                              "Content-Type": "application/json"})
    urllib.request.urlopen(request).read()


def latency(patch_url, bearer, device_node, hub, serial, secret, samples):
    """PATCH on one node, a paho-mqtt device on `device_node`: seconds per sample."""
    device = subprocess.Popen(
        ["taskset", "-c", LOAD_CORE, str(PYTHON), str(ROOT / "tests/clients/python/device.py"), "127.0.0.1",
         str(device_node.mqtt_port), serial, secret],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    seen = {}
    ready = threading.Event()

    def read():
        for line in device.stdout:
            event = json.loads(line)
            if event["event"] == "desired":
                seen[event["payload"]["version"]] = time.perf_counter()
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(10):
        raise RuntimeError("the device never got its desired state")
    version = max(seen)
    times = []
    for i in range(samples):
        version += 1
        started = time.perf_counter()
        patch(patch_url, bearer, hub, {"mtrport": 1 + i % 4})
        deadline = time.time() + 5
        while version not in seen and time.time() < deadline:
            time.sleep(0.0005)
        if version not in seen:
            raise RuntimeError(f"desired version {version} never arrived")
        times.append(seen[version] - started)
    device.stdin.close()
    device.kill()
    return times


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--ingest-devices", type=int, default=1000)
    parser.add_argument("--report-interval", type=float, default=0.1)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "one"
        node = Node(data, ["--no-demo"])
        account = re.search(r"acc_[0-9a-f]{32}", node.banner).group(0)

        # 1. Held connections and memory.
        time.sleep(2)
        base = node.rss_kib()
        log(f"== {args.devices} devices connecting (hubs and credentials are created first)")
        sim = simulate(data, node, args.devices, 300, 3600)
        wait_until(f"{args.devices} connected devices",
                   lambda: node.metric("hubgate_mqtt_devices_connected") >= args.devices, 900)
        time.sleep(5)
        held = node.rss_kib()
        per = (held - base) * 1024 / args.devices
        results["connections"] = {"devices": args.devices, "rss_before_mib": base / 1024,
                                  "rss_with_devices_mib": held / 1024, "bytes_per_connection": per}
        log(f"   RSS {base / 1024:.1f} MiB -> {held / 1024:.1f} MiB: {per / 1024:.1f} KiB per connection")
        sim.terminate()
        sim.wait()
        wait_until("devices gone", lambda: node.metric("hubgate_mqtt_devices_connected") == 0, 60)

        # 2. Ingestion: the first `ingest-devices` hubs, reporting fast.
        log(f"== ingestion: {args.ingest_devices} devices, a report every {args.report_interval} s each")
        sim = simulate(data, node, args.ingest_devices, args.report_interval, 25)
        wait_until("devices connected",
                   lambda: node.metric("hubgate_mqtt_devices_connected") >= args.ingest_devices, 120)
        time.sleep(3)
        accepted = 'hubgate_mqtt_messages_total{kind="report",outcome="accepted"}'
        a0, t0 = node.metric(accepted), time.time()
        time.sleep(10)
        a1, t1 = node.metric(accepted), time.time()
        rate = (a1 - a0) / (t1 - t0)
        sim.wait()
        wait_until("devices gone", lambda: node.metric("hubgate_mqtt_devices_connected") == 0, 60)
        time.sleep(1)
        total_accepted = node.metric(accepted)
        stored = sqlite3.connect(data / "hubgate.db").execute("SELECT SUM(reported_version) FROM hubs").fetchone()[0]
        results["ingestion"] = {"devices": args.ingest_devices, "reports_per_second": rate,
                                "accepted_total": total_accepted, "stored_reported_versions": stored}
        log(f"   {rate:,.0f} reports/s accepted; {total_accepted:,.0f} accepted in all, "
            f"{stored:,} counted in the store")

        # 3. Latency on one node.
        created = admin(data, "integration", "create", "--account", account, "--name", "bench",
                        "--redirect-uri", "https://bench.example/cb", "--scope", "hubs:read hubs:write")
        bearer = token(node.url, created["client_id"], created["client_secret"])
        hub = admin(data, "hub", "create", "--account", account, "--serial", "LAT-1", "--name", "Latency")["id"]
        cred = admin(data, "hub", "credential", hub)
        times = latency(node.url, bearer, node, hub, cred["serial"], cred["secret"], args.samples)
        results["latency_one_node_ms"] = {"p50": pct(times, 50) * 1e3, "p99": pct(times, 99) * 1e3}
        log(f"== desired -> device, one node: p50 {pct(times, 50) * 1e3:.2f} ms, p99 {pct(times, 99) * 1e3:.2f} ms")
        node.stop()

        # 4. Across nodes, on PostgreSQL.
        if args.postgres:
            url = subprocess.run([str(ROOT / "scripts/start-postgres")], capture_output=True, text=True,
                                 check=True).stdout.strip().splitlines()[-1]
            db = f"bench_devices_{os.getpid()}"
            subprocess.run(["psql", url, "-qc", f"CREATE DATABASE {db}"], check=True)
            db_url = url.rsplit("/", 1)[0] + "/" + db
            key = base64.b64encode(os.urandom(32)).decode()
            env = {"HUBGATE_MASTER_KEY": key}
            store = ("--database-url", db_url)
            try:
                one = Node(Path(tmp) / "pg1", ["--no-demo", *store], env)
                two = Node(Path(tmp) / "pg2", ["--no-demo", *store], env)
                account = re.search(r"acc_[0-9a-f]{32}", one.banner).group(0)
                created = admin(Path(tmp) / "pg1", "integration", "create", "--account", account, "--name", "b",
                                "--redirect-uri", "https://bench.example/cb", "--scope", "hubs:read hubs:write",
                                env=env, store=store)
                bearer = token(two.url, created["client_id"], created["client_secret"])
                hub = admin(Path(tmp) / "pg1", "hub", "create", "--account", account, "--serial", "LAT-2",
                            "--name", "Latency", env=env, store=store)["id"]
                cred = admin(Path(tmp) / "pg1", "hub", "credential", hub, env=env, store=store)
                times = latency(two.url, bearer, one, hub, cred["serial"], cred["secret"], args.samples)
                results["latency_across_nodes_ms"] = {"p50": pct(times, 50) * 1e3, "p99": pct(times, 99) * 1e3}
                log(f"== desired -> device across nodes (PostgreSQL): p50 {pct(times, 50) * 1e3:.2f} ms, "
                    f"p99 {pct(times, 99) * 1e3:.2f} ms")
                one.stop()
                two.stop()
            finally:
                subprocess.run(["psql", url, "-qc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"])
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

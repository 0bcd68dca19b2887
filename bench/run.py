#!/usr/bin/env python3
"""hubgate's benchmark harness.

Measures, back to back on this machine, with wrk pinned to one core and the
server to the other:
  - the limit: a bare axum server with the same routes and payload shapes;
  - hubgate on SQLite (and PostgreSQL): client_credentials, refresh_token,
    bearer GET /api/v1/hubs/{id}, GET /api/v1/hubs (page of 50), introspection;
  - node-oidc-provider (npm `oidc-provider`): client_credentials and a
    bearer-checked GET, as the peer;
  - scaling over 1/16/64/256 connections, refresh with 10 thousand vs 1 million
    stored token families, and memory (peak RSS) as load and data grow.
Prints median req/s (min-max over repetitions), p50/p99 latency, errors and
peak RSS, with ratios to the limit and to the peer; writes
bench/results/latest.json, latest.md and chart.svg.

Usage: scripts/bench [--quick] [--no-postgres] [--duration S] [--reps N]
"""
import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
RELEASE = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
SERVER_CORE, LOAD_CORE = "0", "1"
SCOPES = "sub email hubs:read hubs:write accounts:read"


def log(message):
    print(message, file=sys.stderr, flush=True)


class Server:
    """A process pinned to the server core; waits for its 'listening' line."""

    def __init__(self, argv, env=None, marker="listening"):
        port = next((int(a.rsplit(":", 1)[1]) for a in argv if re.fullmatch(r"127\.0\.0\.1:\d+", a)), None)
        if port is not None:
            import socket

            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    raise RuntimeError(f"port {port} is already in use (a server left over from an interrupted "
                                       "run?): stop it and run again")
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE] + argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            text=True,
        )
        self.banner = ""
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server exited: " + " ".join(argv) + "\n" + self.banner)
            self.banner += line
            if marker in line and ("Stop with" in line or "listening" in marker):
                break
        # Keep draining stdout so the server never blocks on it.
        import threading

        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def rss_peak_mb(self):
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024

    def rss_now_mb(self):
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def wrk(url, script, env, connections, duration):
    argv = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s",
            str(BENCH / "lua" / script), url]
    out = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def latency(pct):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)\b", out)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
    socket = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {"rps": rps, "p50_ms": latency(50), "p99_ms": latency(99), "errors": non2xx + socket}


def measure(name, url, script, env, args, connections=64, reps=None, per_rep_env=None):
    reps = reps or args.reps
    runs = []
    for rep in range(reps):
        rep_env = dict(env)
        if per_rep_env:
            rep_env.update(per_rep_env(rep))
        runs.append(wrk(url, script, rep_env, connections, args.duration))
    rps = [r["rps"] for r in runs]
    result = {
        "name": name,
        "connections": connections,
        "rps_median": statistics.median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "reps": reps,
    }
    log(f"  {name:<48} c={connections:<4} {result['rps_median']:>10.0f} req/s  "
        f"p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms  errors {result['errors']}")
    return result


def post_json(url, form, auth=None):
    data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/x-www-form-urlencoded"})
    if auth:
        request.add_header("Authorization", auth)
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def hubgate(*args, env=None):
    out = subprocess.run([str(RELEASE / "hubgate"), *args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        raise RuntimeError(f"hubgate {' '.join(args)}: {out.stderr}")
    return out.stdout


def start_hubgate(data_dir, store_args, env, port):
    server = Server([str(RELEASE / "hubgate"), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir),
                     "--no-demo", "--no-mqtt", *store_args], env={"HUBGATE_LOG": "warn", **env}, marker="Stop with")
    # Only a first start prints the bootstrapped account.
    account = re.search(r"acc_[0-9a-f]{32}", server.banner)
    return server, account and account.group(0)


def prepare(data_dir, store_args, env, account, hubs=60):
    admin = ["admin", "--data-dir", str(data_dir), "--output", "json", *store_args]
    created = json.loads(hubgate(*admin, "integration", "create", "--account", account, "--name", "bench",
                                 "--redirect-uri", "https://bench.example/cb", "--scope", SCOPES, env=env))
    hub_ids = []
    procs = []
    for i in range(hubs):
        procs.append(subprocess.Popen([str(RELEASE / "hubgate"), *admin, "hub", "create", "--account", account,
                                       "--serial", f"BENCH-{i:04}", "--name", f"Bench hub {i}"],
                                      stdout=subprocess.PIPE, text=True, env={**os.environ, **env}))
        if len(procs) >= 4:
            hub_ids.append(json.loads(procs.pop(0).communicate()[0])["id"])
    for proc in procs:
        hub_ids.append(json.loads(proc.communicate()[0])["id"])
    return created["client_id"], created["client_secret"], created["id"], sorted(hub_ids)


def bench_hubgate(label, data_dir, store_args, env, args, port, families_db=None):
    server, account = start_hubgate(data_dir, store_args, env, port)
    base = f"http://127.0.0.1:{port}"
    results, extra = [], {}
    try:
        client_id, secret, integration_id, hubs = prepare(data_dir, store_args, env, account)
        creds = f"client_id={client_id}&client_secret={urllib.parse.quote(secret, safe='')}"
        cc_body = f"grant_type=client_credentials&{creds}"
        extra["rss_idle_mb"] = server.rss_now_mb()
        token = post_json(base + "/identity/oauth/v2/token",
                          {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
        access = token["access_token"]
        token_url = base + "/identity/oauth/v2/token"
        results.append(measure(f"{label}: client_credentials", token_url, "post.lua", {"BODY": cc_body}, args))
        for c in args.scaling:
            if c != 64:
                results.append(measure(f"{label}: client_credentials", token_url, "post.lua", {"BODY": cc_body}, args,
                                       connections=c))
        results.append(measure(f"{label}: GET /api/v1/hubs/{{id}}", f"{base}/api/v1/hubs/{hubs[0]}", "get.lua",
                               {"TOKEN": access}, args))
        results.append(measure(f"{label}: GET /api/v1/hubs (50)", f"{base}/api/v1/hubs?limit=50", "get.lua",
                               {"TOKEN": access}, args))
        introspect_body = f"token={access}&{creds}"
        results.append(measure(f"{label}: introspection", base + "/identity/oauth/v2/introspect", "post.lua",
                               {"BODY": introspect_body}, args))

        def refresh_round(name):
            tokens_file = Path(tempfile.mkstemp(prefix="hubgate-refresh-")[1])
            wrk(token_url, "collect.lua", {"BODY": cc_body, "OUT": str(tokens_file)}, 64, args.collect)
            tokens = tokens_file.read_text().split()
            per_rep = len(tokens) // args.reps
            chunks = []
            for rep in range(args.reps):
                chunk = Path(f"{tokens_file}.{rep}")
                chunk.write_text("\n".join(tokens[rep * per_rep:(rep + 1) * per_rep]) + "\n")
                chunks.append(chunk)
            result = measure(name, token_url, "refresh.lua", {"BODY": f"grant_type=refresh_token&{creds}"}, args,
                             per_rep_env=lambda rep: {"TOKENS": str(chunks[rep])})
            result["tokens_per_rep"] = per_rep
            for path in [tokens_file, *chunks]:
                path.unlink(missing_ok=True)
            return result

        if families_db is not None:
            families_db(integration_id, 10_000)
            results.append(refresh_round(f"{label}: refresh_token (10k families)"))
            families_db(integration_id, 1_000_000)
            results.append(refresh_round(f"{label}: refresh_token (1M families)"))
            extra["rss_after_1m_families_mb"] = server.rss_now_mb()
        else:
            results.append(refresh_round(f"{label}: refresh_token"))
        extra["rss_peak_mb"] = server.rss_peak_mb()
        log(f"  {label}: RSS idle {extra['rss_idle_mb']:.1f} MB, peak under load {extra['rss_peak_mb']:.1f} MB")
        if args.integrations:
            server.stop()
            add_integrations(data_dir, store_args, env, account, args.integrations)
            server, _ = start_hubgate(data_dir, store_args, env, port)
            extra[f"rss_idle_with_{args.integrations}_integrations_mb"] = server.rss_now_mb()
            log(f"  {label}: RSS idle after a restart with {args.integrations} more integrations "
                f"{server.rss_now_mb():.1f} MB")
    finally:
        server.stop()
    return results, extra


def add_integrations(data_dir, store_args, env, account, count):
    """Creates `count` integrations through the admin tool, 8 at a time."""
    admin = [str(RELEASE / "hubgate"), "admin", "--data-dir", str(data_dir), "--output", "json", *store_args,
             "integration", "create", "--account", account, "--redirect-uri", "https://bench.example/cb",
             "--scope", SCOPES, "--name"]
    procs = []
    for i in range(count):
        procs.append(subprocess.Popen(admin + [f"bench {i}"], stdout=subprocess.DEVNULL,
                                      env={**os.environ, **env}))
        if len(procs) >= 8:
            if procs.pop(0).wait() != 0:
                raise RuntimeError("hubgate admin integration create failed")
    for proc in procs:
        if proc.wait() != 0:
            raise RuntimeError("hubgate admin integration create failed")
    log(f"  created {count} more integrations")


def sqlite_families(path):
    def fill(integration_id, target):
        db = sqlite3.connect(path, timeout=60)
        have = db.execute("SELECT COUNT(*) FROM refresh_families").fetchone()[0]
        now = int(time.time())
        rows = ((f"fam_{uuid.uuid4().hex}", integration_id, 1, 0, now + 86400, now) for _ in range(max(0, target - have)))
        db.executemany("INSERT INTO refresh_families (id, integration_id, generation, revoked, expires_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.commit()
        db.close()
        log(f"  stored refresh-token families: {target}")
    return fill


def bench_bare(args, port):
    server = Server([str(RELEASE / "hubgate-bare"), f"127.0.0.1:{port}"])
    base = f"http://127.0.0.1:{port}"
    body = "grant_type=client_credentials&client_id=hgc_0123&client_secret=hgs_0123456789"
    results = []
    try:
        results.append(measure("limit: POST token (bare axum)", base + "/identity/oauth/v2/token", "post.lua",
                               {"BODY": body}, args))
        for c in args.scaling:
            if c != 64:
                results.append(measure("limit: POST token (bare axum)", base + "/identity/oauth/v2/token",
                                       "post.lua", {"BODY": body}, args, connections=c))
        results.append(measure("limit: GET hub (bare axum)", base + "/api/v1/hubs/hub_1", "get.lua", {"TOKEN": "x"},
                               args))
        results.append(measure("limit: GET hubs (50) (bare axum)", base + "/api/v1/hubs?limit=50", "get.lua",
                               {"TOKEN": "x"}, args))
        results.append(measure("limit: POST introspect (bare axum)", base + "/identity/oauth/v2/introspect",
                               "post.lua", {"BODY": "token=x&" + body}, args))
    finally:
        server.stop()
    return results


def bench_peer(args, port):
    peer_dir = BENCH / "peer"
    if not (peer_dir / "node_modules" / "oidc-provider").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=peer_dir, check=True)
    server = Server(["node", str(peer_dir / "server.js"), str(port)], env={"NODE_ENV": "production"})
    base = f"http://127.0.0.1:{port}"
    auth = "Basic YmVuY2g6YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldC1iZW5jaC1zZWNyZXQ="  # bench:bench-secret-…
    results = []
    try:
        results.append(measure("peer: node-oidc-provider client_credentials", base + "/token", "post.lua",
                               {"BODY": "grant_type=client_credentials&scope=hubs%3Aread", "AUTHORIZATION": auth},
                               args))
        token = post_json(base + "/token", {"grant_type": "client_credentials", "scope": "hubs:read"}, auth=auth)
        results.append(measure("peer: node-oidc-provider bearer GET", base + "/api/v1/hubs/hub_0", "get.lua",
                               {"TOKEN": token["access_token"]}, args))
        peak = server.rss_peak_mb()
        log(f"  peer RSS peak {peak:.1f} MB")
    finally:
        server.stop()
    return results, {"rss_peak_mb": peak}


def find(results, prefix, connections=64):
    for r in results:
        if r["name"].startswith(prefix) and r["connections"] == connections:
            return r
    return None


def ratios(results):
    bare_post, bare_get = find(results, "limit: POST token"), find(results, "limit: GET hub (")
    bare_page, bare_intro = find(results, "limit: GET hubs"), find(results, "limit: POST introspect")
    peer_cc, peer_get = find(results, "peer: node-oidc-provider client_credentials"), find(results, "peer: node-oidc-provider bearer GET")
    for r in results:
        name = r["name"]
        base = (bare_post if "client_credentials" in name or "refresh_token" in name else
                bare_get if "hubs/{id}" in name else bare_page if "hubs (50)" in name else
                bare_intro if "introspection" in name else None)
        if name.startswith("limit"):
            base = None
        if base:
            same_c = find(results, base["name"], r["connections"]) or base
            r["vs_limit"] = r["rps_median"] / same_c["rps_median"]
        peer = peer_cc if "client_credentials" in name else peer_get if "hubs/{id}" in name else None
        if peer and not name.startswith("peer"):
            r["vs_peer"] = r["rps_median"] / peer["rps_median"]


def markdown(results, extras, args):
    lines = [f"{len(results)} measurements, {args.reps} repetitions of {args.duration} s each; wrk 1 thread, "
             "pinned to core 1; servers pinned to core 0.", "",
             "| scenario | conns | req/s median (min–max) | p50 ms | p99 ms | errors | × limit | × peer |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        lines.append(f"| {r['name']} | {r['connections']} | {r['rps_median']:,.0f} ({r['rps_min']:,.0f}–{r['rps_max']:,.0f}) "
                     f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | "
                     f"{r.get('vs_limit', 0):.2f} | {r.get('vs_peer', 0):.1f} |".replace("| 0.00 |", "| – |").replace("| 0.0 |", "| – |"))
    lines.append("")
    for label, extra in extras.items():
        lines.append(f"- {label}: " + ", ".join(f"{k.replace('_', ' ')} {v:.1f}" for k, v in extra.items()))
    return "\n".join(lines)


def chart(results, path):
    rows = [r for r in results if r["connections"] == 64]
    width, bar_h, gap, left = 900, 18, 6, 360
    height = 40 + len(rows) * (bar_h + gap)
    top = max(r["rps_max"] for r in rows)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
             f'<text x="10" y="20" font-size="14" font-weight="bold">req/s at 64 connections (median; whisker = min–max)</text>']
    for i, r in enumerate(rows):
        y = 35 + i * (bar_h + gap)
        w = (width - left - 90) * r["rps_median"] / top
        color = "#9aa3b2" if r["name"].startswith("limit") else "#d08770" if r["name"].startswith("peer") else "#1f5fbf"
        lo = left + (width - left - 90) * r["rps_min"] / top
        hi = left + (width - left - 90) * r["rps_max"] / top
        parts.append(f'<text x="{left - 8}" y="{y + 13}" text-anchor="end">{r["name"].replace("&", "&amp;")}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>')
        parts.append(f'<line x1="{lo:.1f}" x2="{hi:.1f}" y1="{y + bar_h / 2}" y2="{y + bar_h / 2}" stroke="#222"/>')
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + 13}">{r["rps_median"]:,.0f}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--collect", type=int, default=None,
                        help="seconds of client_credentials that mint the refresh tokens the refresh runs spend "
                             "[default: duration × reps, enough while client_credentials outpaces refresh]")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--integrations", type=int, default=2000,
                        help="integrations added (then a restart) to measure memory per integration; 0 skips")
    parser.add_argument("--quick", action="store_true", help="2 s runs, 2 repetitions, no scaling or PostgreSQL")
    args = parser.parse_args()
    args.scaling = [1, 16, 64, 256]
    if args.quick:
        args.duration, args.reps, args.scaling, args.no_postgres = 2, 2, [64], True
        args.integrations = 0
    args.collect = args.collect or args.duration * args.reps
    for tool in ["wrk", "taskset", "node", "npm"]:
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            sys.exit(f"{tool} is required (scripts/bench installs wrk)")
    log("== building release binaries")
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "hubgate", "-p", "hubgate-bench"], cwd=ROOT, check=True)
    results, extras = [], {}
    log("== the limit: bare axum")
    results += bench_bare(args, 18190)
    log("== the peer: node-oidc-provider")
    r, extras["peer: node-oidc-provider"] = bench_peer(args, 18191)
    results += r
    with tempfile.TemporaryDirectory(prefix="hubgate-bench-") as tmp:
        log("== hubgate on SQLite")
        data = Path(tmp) / "sqlite"
        r, extras["hubgate SQLite"] = bench_hubgate("hubgate SQLite", data, [], {}, args, 18192,
                                                     families_db=sqlite_families(data / "hubgate.db"))
        results += r
        if not args.no_postgres:
            log("== hubgate on PostgreSQL")
            url = subprocess.run([str(ROOT / "scripts" / "start-postgres")], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            name = f"hubgate_bench_{uuid.uuid4().hex[:8]}"
            psql = ["psql", url, "-q", "-c"]
            env = {"PGPASSWORD": "hubgate"}
            subprocess.run(psql + [f"CREATE DATABASE {name}"], check=True, env={**os.environ, **env})
            db_url = url.rsplit("/", 1)[0] + "/" + name
            key = subprocess.run(["python3", "-c", "import base64,os;print(base64.b64encode(os.urandom(32)).decode())"],
                                 capture_output=True, text=True).stdout.strip()
            try:
                r, extras["hubgate PostgreSQL"] = bench_hubgate("hubgate PostgreSQL", Path(tmp) / "pg",
                                                                 ["--database-url", db_url], {"HUBGATE_MASTER_KEY": key},
                                                                 args, 18193)
                results += r
            finally:
                subprocess.run(psql + [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], env={**os.environ, **env})
    ratios(results)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps({"results": results, "extras": extras}, indent=2) + "\n")
    table = markdown(results, extras, args)
    (RESULTS / "latest.md").write_text(table + "\n")
    chart(results, RESULTS / "chart.svg")
    print(table)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""hubgate's benchmark harness.

Measures, back to back on this machine, with wrk pinned to one core and the
server to the other:
  - the limit: a bare axum server with the same routes and payload shapes;
  - hubgate on SQLite (and PostgreSQL): client_credentials, refresh_token,
    bearer GET /api/v1/hubs/{id}, GET /api/v1/hubs (pages of 50 and 200),
    introspection;
  - node-oidc-provider (npm `oidc-provider`): client_credentials and a
    bearer-checked GET, as the peer;
  - scaling over 1/16/64/256 connections, refresh with 10 thousand vs 1 million
    stored token families, and memory (peak RSS) as load and data grow.
Every server runs at once, and the repetitions are interleaved: for each
scenario, round after round, the limit, the peer and each hubgate take their
turn, so drift on this shared machine hits all alike. A ratio to the limit
(or the peer) is computed per round, and reported as its median and min–max:
a gain smaller than that spread is not a gain. Prints median req/s (min-max),
p50/p99 latency, errors and peak RSS; writes bench/results/latest.json,
latest.md and chart.svg.

Usage: scripts/bench [--quick] [--no-postgres] [--duration S] [--reps N]
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


def summarize(name, connections, runs):
    rps = [r["rps"] for r in runs]
    return {
        "name": name,
        "connections": connections,
        "rps_median": statistics.median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "reps": len(runs),
    }


def interleave(targets, args, connections=64):
    """Runs `args.reps` rounds; in each, every target once, in order. A target
    is (name, url, wrk script, env, per-round env or None); the first whose
    name starts with "limit" is the limit of the others, the first "peer" the
    peer. Ratios are taken per round, then summarized."""
    runs = {name: [] for name, *_ in targets}
    for rep in range(args.reps):
        for name, url, script, env, per_rep in targets:
            rep_env = {**env, **(per_rep(rep) if per_rep else {})}
            runs[name].append(wrk(url, script, rep_env, connections, args.duration))
    limit = next((name for name, *_ in targets if name.startswith("limit")), None)
    peer = next((name for name, *_ in targets if name.startswith("peer")), None)
    results = []
    for name, *_ in targets:
        result = summarize(name, connections, runs[name])
        for key, base in (("vs_limit", limit), ("vs_peer", peer)):
            if base and name not in (limit, peer):
                per_round = [a["rps"] / b["rps"] for a, b in zip(runs[name], runs[base])]
                result[key] = statistics.median(per_round)
                result[key + "_min"], result[key + "_max"] = min(per_round), max(per_round)
        ratio = "".join(f"  × {k[3:]} {result[k]:.2f} ({result[k + '_min']:.2f}–{result[k + '_max']:.2f})"
                        for k in ("vs_limit", "vs_peer") if k in result)
        log(f"  {name:<52} c={connections:<4} {result['rps_median']:>10.0f} req/s  "
            f"p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms  errors {result['errors']}{ratio}")
        results.append(result)
    return results


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


def prepare(data_dir, store_args, env, account, hubs=201):
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


class Hubgate:
    """A running `hubgate serve` with a bench integration, its hubs and a token."""

    def __init__(self, label, data_dir, store_args, env, port):
        self.label, self.data_dir, self.store_args, self.env, self.port = label, data_dir, store_args, env, port
        self.server, account = start_hubgate(data_dir, store_args, env, port)
        self.account = account
        self.base = f"http://127.0.0.1:{port}"
        self.token_url = self.base + "/identity/oauth/v2/token"
        client_id, secret, self.integration_id, self.hubs = prepare(data_dir, store_args, env, account)
        self.creds = f"client_id={client_id}&client_secret={urllib.parse.quote(secret, safe='')}"
        self.cc_body = f"grant_type=client_credentials&{self.creds}"
        self.extra = {"rss_idle_mb": self.server.rss_now_mb()}
        self.access = post_json(self.token_url, {"grant_type": "client_credentials", "client_id": client_id,
                                                 "client_secret": secret})["access_token"]

    def target(self, scenario):
        name = f"{self.label}: {scenario}"
        if scenario == "client_credentials":
            return (name, self.token_url, "post.lua", {"BODY": self.cc_body}, None)
        if scenario == "GET /api/v1/hubs/{id}":
            return (name, f"{self.base}/api/v1/hubs/{self.hubs[0]}", "get.lua", {"TOKEN": self.access}, None)
        if scenario == "GET /api/v1/hubs (50)":
            return (name, f"{self.base}/api/v1/hubs?limit=50", "get.lua", {"TOKEN": self.access}, None)
        if scenario == "GET /api/v1/hubs (200)":
            return (name, f"{self.base}/api/v1/hubs?limit=200", "get.lua", {"TOKEN": self.access}, None)
        if scenario == "introspection":
            return (name, self.base + "/identity/oauth/v2/introspect", "post.lua",
                    {"BODY": f"token={self.access}&{self.creds}"}, None)
        raise ValueError(scenario)

    def refresh_target(self, name, args):
        """Mints the refresh tokens one round spends each (they are single use)."""
        tokens_file = Path(tempfile.mkstemp(prefix="hubgate-refresh-")[1])
        wrk(self.token_url, "collect.lua", {"BODY": self.cc_body, "OUT": str(tokens_file)}, 64, args.collect)
        tokens = tokens_file.read_text().split()
        tokens_file.unlink()
        per_rep = len(tokens) // args.reps
        chunks = []
        for rep in range(args.reps):
            chunk = Path(f"{tokens_file}.{rep}")
            chunk.write_text("\n".join(tokens[rep * per_rep:(rep + 1) * per_rep]) + "\n")
            chunks.append(chunk)
        self.chunks = getattr(self, "chunks", []) + chunks
        return (f"{self.label}: {name}", self.token_url, "refresh.lua",
                {"BODY": f"grant_type=refresh_token&{self.creds}"}, lambda rep: {"TOKENS": str(chunks[rep])})

    def memory_with_integrations(self, count):
        self.server.stop()
        add_integrations(self.data_dir, self.store_args, self.env, self.account, count)
        self.server, _ = start_hubgate(self.data_dir, self.store_args, self.env, self.port)
        self.extra[f"rss_idle_with_{count}_integrations_mb"] = self.server.rss_now_mb()
        log(f"  {self.label}: RSS idle after a restart with {count} more integrations "
            f"{self.server.rss_now_mb():.1f} MB")

    def stop(self):
        self.server.stop()
        for chunk in getattr(self, "chunks", []):
            chunk.unlink(missing_ok=True)


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


BARE_BODY = "grant_type=client_credentials&client_id=hgc_0123&client_secret=hgs_0123456789"
PEER_AUTH = "Basic YmVuY2g6YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldC1iZW5jaC1zZWNyZXQ="  # bench:bench-secret-…


def start_peer(port):
    peer_dir = BENCH / "peer"
    if not (peer_dir / "node_modules" / "oidc-provider").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=peer_dir, check=True)
    return Server(["node", str(peer_dir / "server.js"), str(port)], env={"NODE_ENV": "production"})


def run_all(args, bare_base, peer_base, hubgates, sqlite):
    """Every scenario, interleaved across the servers."""
    limit_token = ("limit: POST token (bare axum)", bare_base + "/identity/oauth/v2/token", "post.lua",
                   {"BODY": BARE_BODY}, None)
    peer_token = post_json(peer_base + "/token", {"grant_type": "client_credentials", "scope": "hubs:read"},
                           auth=PEER_AUTH)["access_token"]
    results = []
    log("== client_credentials")
    results += interleave([limit_token,
                           ("peer: node-oidc-provider client_credentials", peer_base + "/token", "post.lua",
                            {"BODY": "grant_type=client_credentials&scope=hubs%3Aread", "AUTHORIZATION": PEER_AUTH},
                            None),
                           *(h.target("client_credentials") for h in hubgates)], args)
    for c in args.scaling:
        if c != 64:
            results += interleave([limit_token, *(h.target("client_credentials") for h in hubgates)], args,
                                  connections=c)
    log("== bearer GET of one hub")
    results += interleave([("limit: GET hub (bare axum)", bare_base + "/api/v1/hubs/hub_1", "get.lua",
                            {"TOKEN": "x"}, None),
                           ("peer: node-oidc-provider bearer GET", peer_base + "/api/v1/hubs/hub_0", "get.lua",
                            {"TOKEN": peer_token}, None),
                           *(h.target("GET /api/v1/hubs/{id}") for h in hubgates)], args)
    log("== the hub list")
    results += interleave([("limit: GET hubs (50) (bare axum)", bare_base + "/api/v1/hubs?limit=50", "get.lua",
                            {"TOKEN": "x"}, None),
                           *(h.target("GET /api/v1/hubs (50)") for h in hubgates)], args)
    results += interleave([("limit: GET hubs (200) (bare axum)", bare_base + "/api/v1/hubs?limit=200", "get.lua",
                            {"TOKEN": "x"}, None),
                           *(h.target("GET /api/v1/hubs (200)") for h in hubgates)], args)
    log("== introspection")
    results += interleave([("limit: POST introspect (bare axum)", bare_base + "/identity/oauth/v2/introspect",
                            "post.lua", {"BODY": "token=x&" + BARE_BODY}, None),
                           *(h.target("introspection") for h in hubgates)], args)
    log("== refresh_token")
    refresh_limit = ("limit: POST token (bare axum), beside refresh", *limit_token[1:])
    sqlite.fill(10_000)
    results += interleave([refresh_limit,
                           *(h.refresh_target("refresh_token (10k families)" if h is sqlite.hubgate
                                              else "refresh_token", args) for h in hubgates)], args)
    sqlite.fill(1_000_000)
    results += interleave([refresh_limit, sqlite.hubgate.refresh_target("refresh_token (1M families)", args)], args)
    sqlite.hubgate.extra["rss_after_1m_families_mb"] = sqlite.hubgate.server.rss_now_mb()
    return results


class SqliteFamilies:
    """Stores refresh-token families straight into a SQLite hubgate's database."""

    def __init__(self, hubgate):
        self.hubgate = hubgate
        self.fill_to = sqlite_families(hubgate.data_dir / "hubgate.db")

    def fill(self, target):
        self.fill_to(self.hubgate.integration_id, target)


def markdown(results, extras, args):
    lines = [f"{len(results)} measurements, {args.reps} interleaved rounds of {args.duration} s each; wrk 1 thread, "
             "pinned to core 1; servers pinned to core 0. Ratios are per round: median (min–max).", "",
             "| scenario | conns | req/s median (min–max) | p50 ms | p99 ms | errors | × limit | × peer |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def ratio(r, key, digits):
        if key not in r:
            return "–"
        return f"{r[key]:.{digits}f} ({r[key + '_min']:.{digits}f}–{r[key + '_max']:.{digits}f})"

    for r in results:
        lines.append(f"| {r['name']} | {r['connections']} | {r['rps_median']:,.0f} ({r['rps_min']:,.0f}–{r['rps_max']:,.0f}) "
                     f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | "
                     f"{ratio(r, 'vs_limit', 2)} | {ratio(r, 'vs_peer', 1)} |")
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
    extras = {}
    bare = Server([str(RELEASE / "hubgate-bare"), "127.0.0.1:18190"])
    peer = start_peer(18191)
    hubgates = []
    database = None
    with tempfile.TemporaryDirectory(prefix="hubgate-bench-") as tmp:
        try:
            log("== starting hubgate on SQLite")
            hubgates.append(Hubgate("hubgate SQLite", Path(tmp) / "sqlite", [], {}, 18192))
            sqlite = SqliteFamilies(hubgates[0])
            if not args.no_postgres:
                log("== starting hubgate on PostgreSQL")
                url = subprocess.run([str(ROOT / "scripts" / "start-postgres")], capture_output=True, text=True,
                                     check=True).stdout.strip().splitlines()[-1]
                database = (url, f"hubgate_bench_{uuid.uuid4().hex[:8]}")
                subprocess.run(["psql", url, "-q", "-c", f"CREATE DATABASE {database[1]}"], check=True,
                               env={**os.environ, "PGPASSWORD": "hubgate"})
                key = base64.b64encode(os.urandom(32)).decode()
                hubgates.append(Hubgate("hubgate PostgreSQL", Path(tmp) / "pg",
                                        ["--database-url", url.rsplit("/", 1)[0] + "/" + database[1]],
                                        {"HUBGATE_MASTER_KEY": key}, 18193))
            results = run_all(args, "http://127.0.0.1:18190", "http://127.0.0.1:18191", hubgates, sqlite)
            extras["peer: node-oidc-provider"] = {"rss_peak_mb": peer.rss_peak_mb()}
            for h in hubgates:
                h.extra["rss_peak_mb"] = h.server.rss_peak_mb()
                log(f"  {h.label}: RSS idle {h.extra['rss_idle_mb']:.1f} MB, peak under load "
                    f"{h.extra['rss_peak_mb']:.1f} MB")
                if args.integrations:
                    h.memory_with_integrations(args.integrations)
                extras[h.label] = h.extra
        finally:
            for server in [bare, peer, *hubgates]:
                server.stop()
            if database:
                subprocess.run(["psql", database[0], "-q", "-c", f"DROP DATABASE IF EXISTS {database[1]} WITH (FORCE)"],
                               env={**os.environ, "PGPASSWORD": "hubgate"})

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps({"results": results, "extras": extras}, indent=2) + "\n")
    table = markdown(results, extras, args)
    (RESULTS / "latest.md").write_text(table + "\n")
    chart(results, RESULTS / "chart.svg")
    print(table)


if __name__ == "__main__":
    main()

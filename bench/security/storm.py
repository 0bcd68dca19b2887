# 64-parallel login storm (256 logins for unknown emails, 64 at a time) against a
# running hubgate; samples client_credentials latency and the server's RSS.
# usage: storm.py BASE_URL PID CLIENT_ID CLIENT_SECRET
import sys, threading, time, re, statistics, http.client, urllib.parse
base, pid, cid, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
host = urllib.parse.urlparse(base).netloc
def mem(field):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith(field + ":"): return int(l.split()[1]) // 1024
def req(method, path, body=None, headers={}):
    c = http.client.HTTPConnection(host, timeout=60); c.request(method, path, body, headers)
    r = c.getresponse(); data = r.read(); c.close(); return r, data
r, page = req("GET", "/console/login")
cookie = [v for k, v in r.getheaders() if k.lower() == "set-cookie" and v.startswith("hubgate_csrf=")][0].split(";")[0]
csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode().replace("&#x2b;", "+").replace("&#x2f;", "/").replace("&#61;", "=")
token_body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": cid, "client_secret": secret})
form_h = {"Content-Type": "application/x-www-form-urlencoded"}
def token_latency():
    t = time.perf_counter(); r, _ = req("POST", "/identity/oauth/v2/token", token_body, form_h)
    assert r.status == 200, r.status; return (time.perf_counter() - t) * 1000
base_lat = [token_latency() for _ in range(50)]
statuses = {}; lock = threading.Lock()
def login(i):
    body = urllib.parse.urlencode({"email": f"nobody{i}@example.com", "password": "wrong password", "csrf": csrf})
    r, _ = req("POST", "/console/login", body, {**form_h, "Cookie": cookie})
    with lock: statuses[r.status] = statuses.get(r.status, 0) + 1
storm_lat = []; done = False; peak_rss = 0
def sampler():
    global peak_rss
    while not done:
        storm_lat.append(token_latency()); peak_rss = max(peak_rss, mem("VmRSS")); time.sleep(0.005)
s = threading.Thread(target=sampler); s.start()
t0 = time.time()
for wave in range(4):
    ts = [threading.Thread(target=login, args=(wave * 64 + i,)) for i in range(64)]
    [t.start() for t in ts]; [t.join() for t in ts]
done = True; s.join()
storm_s = time.time() - t0
time.sleep(10)
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(len(xs) * p))]
print(f"storm took {storm_s:.2f}s; login statuses {statuses}")
print(f"client_credentials before: median {statistics.median(base_lat):.2f} ms, max {max(base_lat):.2f} ms")
print(f"client_credentials during ({len(storm_lat)} samples): median {statistics.median(storm_lat):.2f} ms, p95 {q(storm_lat,.95):.2f} ms, max {max(storm_lat):.2f} ms")
print(f"RSS peak sampled {peak_rss} MiB; VmHWM {mem('VmHWM')} MiB; VmRSS 10 s later {mem('VmRSS')} MiB")

# 100,000 requests with made-up methods (each a 405) over 8 keep-alive
# connections, pipelined 100 at a time; then /metrics size and the server's RSS.
# usage: methods.py HOST PORT PID
import socket, sys, time, threading, http.client
host, port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def mem(field):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith(field + ":"): return int(l.split()[1]) // 1024
def metrics():
    c = http.client.HTTPConnection(host, port); t = time.perf_counter(); c.request("GET", "/metrics")
    body = c.getresponse().read(); return len(body), (time.perf_counter() - t) * 1000, body
rss0 = mem("VmRSS"); size0, _, _ = metrics()
counts = []
def worker(w, n):
    s = socket.create_connection((host, port)); got = 0; i = 0
    while i < n:
        batch = min(100, n - i)
        s.sendall(b"".join(f"X{w}Y{i+k}Z /healthz HTTP/1.1\r\nHost: x\r\n\r\n".encode() for k in range(batch)))
        i += batch
        buf = b""
        while buf.count(b"HTTP/1.1 405") < batch:
            chunk = s.recv(1 << 16)
            if not chunk: raise SystemExit("closed")
            buf += chunk
        got += batch
    counts.append(got); s.close()
t = time.time()
ts = [threading.Thread(target=worker, args=(w, 12500)) for w in range(8)]
[x.start() for x in ts]; [x.join() for x in ts]
print(f"{sum(counts)} odd-method requests (405) in {time.time()-t:.1f}s")
size1, ms, body = metrics()
print(f"/metrics: {size0} bytes before, {size1} bytes after ({ms:.1f} ms to fetch); RSS {rss0} MiB before, {mem('VmRSS')} MiB after")
print([l for l in body.decode().splitlines() if l.startswith("hubgate_http_requests_total")])

# Opens N idle sockets to a hubgate started under `ulimit -n 256`, then times
# /healthz on fresh connections and counts the held sockets still open.
# usage: cap.py HOST PORT N
import socket, sys, time, http.client, statistics, select
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for i in range(n):
    held.append(socket.create_connection((host, port)))
time.sleep(1)
lat = []
for i in range(50):
    t = time.perf_counter()
    c = http.client.HTTPConnection(host, port, timeout=5); c.request("GET", "/healthz"); r = c.getresponse(); r.read(); c.close()
    assert r.status == 200
    lat.append((time.perf_counter() - t) * 1000)
    time.sleep(0.02)
open_ = 0
for s in held:
    r, _, _ = select.select([s], [], [], 0)
    if not r: open_ += 1
    else:
        try:
            if s.recv(1, socket.MSG_PEEK): open_ += 1
        except OSError: pass
print(f"{n} idle sockets opened; {open_} still held by the server; /healthz over 50 fresh connections: median {statistics.median(lat):.2f} ms, max {max(lat):.2f} ms")

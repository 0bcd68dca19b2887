#!/usr/bin/env bash
# Usage: cargo build --release -p hubgate && bench/request-log.sh
# Throughput of the token endpoint and a bearer GET with the request log on
# (default level) and off (HUBGATE_LOG=warn), alternating, 3 rounds each.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN=$ROOT/target/release/hubgate
LUA=$ROOT/bench/lua
D=$(mktemp -d)
run_server() { # $1: HUBGATE_LOG value or "default"
  if [ "$1" = default ]; then env -u HUBGATE_LOG $BIN serve --listen 127.0.0.1:18080 --data-dir $D/data 2>>$D/server.log >/dev/null &
  else HUBGATE_LOG=$1 $BIN serve --listen 127.0.0.1:18080 --data-dir $D/data 2>>$D/server.log >/dev/null & fi
  echo $! > $D/pid
  for i in $(seq 1 100); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && return; sleep 0.1; done
}
stop_server() { kill $(cat $D/pid); wait $(cat $D/pid) 2>/dev/null || true; }
run_server default; stop_server
ACC=$($BIN admin --data-dir $D/data --output json account list | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
CRED=$($BIN admin --data-dir $D/data --output json integration create --account $ACC --name B --redirect-uri https://x.example/cb --scope "hubs:read accounts:read")
CID=$(echo "$CRED" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
SEC=$(echo "$CRED" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
BODY="grant_type=client_credentials&client_id=$CID&client_secret=$SEC"
for round in 1 2 3; do
  for mode in warn default; do
    run_server $mode
    TOKEN=$(curl -s -d "$BODY" http://127.0.0.1:18080/identity/oauth/v2/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    cc=$(BODY="$BODY" wrk -t2 -c64 -d8s -s $LUA/post.lua http://127.0.0.1:18080/identity/oauth/v2/token | awk '/Requests\/sec/ {print $2}')
    get=$(TOKEN="$TOKEN" wrk -t2 -c64 -d8s -s $LUA/get.lua http://127.0.0.1:18080/api/v1/account | awk '/Requests\/sec/ {print $2}')
    echo "round $round log=$mode client_credentials=$cc GET_account=$get"
    stop_server
  done
done
echo "log lines written: $(grep -c 'hubgate::request' $D/server.log)"
rm -rf $D

#!/usr/bin/env bash
# usage: serve.sh BIN DATA_DIR PORT [extra serve args...]; prints PID, then creates an integration
set -euo pipefail
bin=$1; data=$2; port=$3; shift 3
rm -rf "$data"
"$bin" serve --listen 127.0.0.1:$port --data-dir "$data" "$@" > "$data.out" 2> "$data.err" &
pid=$!
for i in $(seq 100); do grep -q "Stop with Ctrl-C" "$data.out" 2>/dev/null && break; sleep 0.1; done
acc=$(grep -o 'acc_[A-Za-z0-9_]*' "$data.out" | head -1)
json=$("$bin" admin --data-dir "$data" --output json integration create --account "$acc" --name M --redirect-uri https://example.com/cb --scope "hubs:read accounts:read")
cid=$(echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
sec=$(echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
echo "$pid $cid $sec"

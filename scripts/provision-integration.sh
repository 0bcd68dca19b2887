#!/bin/sh
# Usage: HUBGATE_URL=… CLIENT_ID=hgc_… CLIENT_SECRET=hgs_… provision-integration.sh NAME REDIRECT_URI SCOPE
set -eu
token=$(curl -sf "$HUBGATE_URL/identity/oauth/v2/token" \
  -d grant_type=client_credentials -d scope=integrations:write \
  --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$CLIENT_SECRET" |
  sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
created=$(curl -sf "$HUBGATE_URL/api/v1/integrations" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' \
  -d "{\"name\": \"$1\", \"redirect_uris\": [\"$2\"], \"scope\": \"$3\"}")
echo "client_id=$(echo "$created" | sed -n 's/.*"client_id":"\([^"]*\)".*/\1/p')"
echo "client_secret=$(echo "$created" | sed -n 's/.*"client_secret":"\([^"]*\)".*/\1/p')"

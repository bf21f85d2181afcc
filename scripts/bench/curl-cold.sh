#!/usr/bin/env bash
# The shell baseline for a cold run: the same two requests graphd makes, one `curl` each: the
# client-credentials POST (the secret read from a file, `client_secret@FILE`, never argv), then
# the Graph GET with the token (from a private header file, `-H @FILE`, never argv). The body of
# the GET goes to stdout.
#
# Usage: curl-cold.sh CA_PEM SECRET_FILE TOKEN_URL GRAPH_URL
# Needs AZURE_CLIENT_ID and GRAPHD_GRAPH_ENDPOINT (the scope) in the environment.
set -euo pipefail
ca=$1 secret=$2 token_url=$3 url=$4
umask 077
header=$(mktemp "${TMPDIR:-/tmp}/graphd-bench-auth.XXXXXX")
trap 'rm -f "$header"' EXIT
curl -sS --fail --cacert "$ca" \
  --data-urlencode "client_id=$AZURE_CLIENT_ID" \
  --data-urlencode "scope=$GRAPHD_GRAPH_ENDPOINT/.default" \
  --data-urlencode "grant_type=client_credentials" \
  --data-urlencode "client_secret@$secret" \
  "$token_url" | jq -r '"Authorization: Bearer " + .access_token' >"$header"
curl -sS --fail --cacert "$ca" -H "@$header" "$url"

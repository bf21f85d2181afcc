#!/usr/bin/env bash
# The shell baseline for a full listing: one `curl` GET per page, following @odata.nextLink
# with jq until there is none, every page body written to stdout as received. The token comes
# in a header file (`curl -H @FILE`), never in argv.
#
# Usage: curl-loop.sh CA_PEM HEADER_FILE FIRST_URL
set -euo pipefail
ca=$1 header=$2 url=$3
page=$(mktemp "${TMPDIR:-/tmp}/graphd-bench-page.XXXXXX")
trap 'rm -f "$page"' EXIT
while [ -n "$url" ]; do
  curl -sS --fail --cacert "$ca" -H "@$header" -o "$page" "$url"
  cat "$page"
  url=$(jq -r '."@odata.nextLink" // empty' "$page")
done

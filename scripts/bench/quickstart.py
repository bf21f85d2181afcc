"""The peer graphd is benchmarked against: Microsoft's "Python daemon app calls Microsoft Graph"
quickstart (ms-identity-python-daemon), re-implemented here from its published steps.

The steps, as the quickstart publishes them:
  1. read a parameters.json (authority, client_id, scope, endpoint, and either `secret`, or
     `thumbprint` + `private_key_file` for the certificate variant);
  2. create one msal.ConfidentialClientApplication with that credential;
  3. acquire_token_for_client(scopes=...) (MSAL >= 1.23 looks in its in-memory cache first);
  4. requests.get(endpoint, headers={"Authorization": "Bearer " + token}).json();
  5. print the result as indented JSON.

Two departures, both needed to point it at the local emulator and both said in
docs/benchmarks.md:
  - `instance_discovery=False`: MSAL would otherwise ask login.microsoftonline.com whether the
    emulator's 127.0.0.1 authority is a known host. Against the real login.microsoftonline.com
    MSAL skips that call (the host is well known), so with the flag the round trips are the same
    as in production: the tenant's OpenID configuration, then the token, then Graph.
  - the emulator's CA is trusted through REQUESTS_CA_BUNDLE (set by scripts/bench.sh), which both
    MSAL's and our requests calls honour.

And one extension the quickstart does not have: with `"follow_next_link": true` in the config,
it follows @odata.nextLink (on one requests.Session, the fastest way in requests) and prints
every page, so that the full-listing scenario has a Python peer too.

Usage: python quickstart.py parameters.json
"""

import json
import sys

import msal
import requests

config = json.load(open(sys.argv[1]))

if "secret" in config:
    credential = config["secret"]
else:
    credential = {
        "thumbprint": config["thumbprint"],
        "private_key": open(config["private_key_file"]).read(),
    }

app = msal.ConfidentialClientApplication(
    config["client_id"],
    authority=config["authority"],
    client_credential=credential,
    instance_discovery=False,
)

result = app.acquire_token_for_client(scopes=config["scope"])

if "access_token" not in result:
    # As the quickstart does: the error, its description and the correlation id.
    print(result.get("error"), file=sys.stderr)
    print(result.get("error_description"), file=sys.stderr)
    print(result.get("correlation_id"), file=sys.stderr)
    sys.exit(1)

headers = {"Authorization": "Bearer " + result["access_token"]}
if not config.get("follow_next_link"):
    graph_data = requests.get(config["endpoint"], headers=headers).json()
    print("Graph API call result: ")
    print(json.dumps(graph_data, indent=2))
else:
    session = requests.Session()
    url = config["endpoint"]
    while url:
        response = session.get(url, headers=headers)
        response.raise_for_status()
        graph_data = response.json()
        print(json.dumps(graph_data["value"], indent=2))
        url = graph_data.get("@odata.nextLink")

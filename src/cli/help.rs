//! The long texts of `--help`: exit codes and each command's examples. Kept apart from the
//! flag definitions so that `cli/mod.rs` reads as the list of flags it is.

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  anything else (e.g. cannot write the output)
  2  usage or configuration error
  3  credential or authentication error (a local check, or Entra refused)
  4  Graph refused the request (401, 403, 404, 400)
  5  network, TLS or server failure (after retries)

Proxies: HTTPS_PROXY and NO_PROXY are honoured; add a TLS-inspecting proxy's CA with --ca-bundle.";

/// `--thumbprint`'s help: the certificate store is only on Windows.
pub const THUMBPRINT_HELP: &str = if cfg!(windows) {
    "SHA-1 thumbprint (hex, as the portal shows it) of the registered certificate: with \
--cert-store, the certificate in that Windows store; with --key and without --cert, the \
quickstart's form (sends RS256 + x5t)"
} else {
    "SHA-1 thumbprint (hex, as the portal shows it) of the registered certificate, with --key \
and without --cert: the quickstart's form; sends RS256 + x5t"
};

pub const USER_EXAMPLES: &str = "\
Examples:
  graphd user adele@contoso.onmicrosoft.com
  graphd user 'alex_fabrikam.com#EXT#@contoso.onmicrosoft.com' --select id,mail
  graphd user 87d349ed-44d7-43e1-9a83-5f2406dee5bd -o table";

pub const GET_EXAMPLES: &str = "\
A relative PATH resolves against the Graph endpoint and --api-version; an absolute URL must be
on the Graph origin (the token is never sent elsewhere). Without PATH, the `endpoint` of
--config is fetched.

Examples:
  graphd get /organization
  graphd get '/groups?$select=id,displayName' --all -o table
  graphd get '/users?$search=\"displayName:ada\"' --header ConsistencyLevel:eventual --api-version beta
  graphd get '/groups/delta?$select=displayName,description' --all --delta groups.state -o jsonl";

pub const TOKEN_EXAMPLES: &str = "\
Examples:
  graphd token | jq -r .accessToken | other-tool --token-stdin
  graphd token --scope https://graph.microsoft.com/.default --no-token-cache
  graphd token --managed-identity --managed-identity-client-id GUID   # expiresOn from the endpoint
  curl -H @<(graphd token | jq -r '\"Authorization: Bearer \" + .accessToken') https://graph.microsoft.com/v1.0/organization";

pub const CONSENT_EXAMPLES: &str = "\
Examples:
  graphd consent-url --tenant contoso.onmicrosoft.com --client-id C
  graphd consent-url --v2
  graphd consent-url --profile prod --cloud usgov";

pub const CONFIG_EXAMPLES: &str = if cfg!(windows) {
    "\
Precedence, highest first: flags > environment > --config parameters.json > --profile > defaults.
Profiles live in %APPDATA%\\graphd\\config.toml (or $XDG_CONFIG_HOME\\graphd\\config.toml).

Examples:
  graphd config show
  graphd config show --profile prod -o json
  graphd config show --config C:\\graphd\\parameters.json"
} else {
    "\
Precedence, highest first: flags > environment > --config parameters.json > --profile > defaults.
Profiles live in $XDG_CONFIG_HOME/graphd/config.toml (default ~/.config/graphd/config.toml).

Examples:
  graphd config show
  graphd config show --profile prod -o json
  graphd config show --config parameters.json"
};

pub const CACHE_EXAMPLES: &str = "\
Examples:
  graphd cache clear
  GRAPHD_TOKEN_CACHE=off graphd users";

pub const COMPLETIONS_EXAMPLES: &str = if cfg!(windows) {
    "\
Examples:
  graphd completions powershell | Out-String | Invoke-Expression
  graphd completions powershell >> $PROFILE"
} else {
    "\
Examples:
  graphd completions bash > ~/.local/share/bash-completion/completions/graphd
  graphd completions zsh > \"${fpath[1]}/_graphd\"
  graphd completions fish > ~/.config/fish/completions/graphd.fish"
};

pub const MAN_EXAMPLES: &str = "\
Examples:
  graphd man | man -l -
  graphd man > /usr/local/share/man/man1/graphd.1";

pub const SECRET_EXAMPLES: &str = if cfg!(windows) {
    "\
The entry is keyed by authority host + tenant + client id (service \"graphd\"), in the Windows
Credential Manager (Control Panel > Credential Manager > Windows Credentials). When no
credential is given by flag or env, graphd uses this secret.

Examples:
  graphd secret set --tenant T --client-id C          # prompts twice, no echo
  Get-Content -Raw secret.txt | graphd secret set --tenant T --client-id C
  graphd secret status --tenant T --client-id C
  graphd secret delete --tenant T --client-id C"
} else {
    "\
The entry is keyed by authority host + tenant + client id (service \"graphd\").
When no credential is given by flag or env, graphd uses this secret.

Examples:
  printf %s \"$SECRET\" | graphd secret set --tenant T --client-id C
  graphd secret set --tenant T --client-id C          # prompts twice, no echo
  graphd secret status --tenant T --client-id C
  graphd secret delete --tenant T --client-id C --keyring keyutils"
};

pub const CERT_KEYS_EXAMPLES: &str = "\
An app may roll its own keys without any admin permission, but only while it holds a valid,
registered certificate: these commands authenticate with --cert/--key (the current one) and
sign a proof of possession with it. The application *object* id (not the client id) is read
from Graph when it allows, else give --app-object-id (portal: App registrations > the app >
Overview > Object ID). A managed identity holds no certificate: with one, `list` works
(as the app with --federated-managed-identity) and add/remove/rotate are refused.

Examples:
  graphd cert list --cert cur.pem --key cur.key
  graphd cert new --out-cert new.pem --out-key new.key --hours 24
  graphd cert rotate --cert cur.pem --key cur.key --new-cert new.pem --new-key new.key
  graphd cert remove 6f0c...-keyid --cert new.pem --key new.key --app-object-id OID
  graphd cert rotate --key 'pkcs11:token=ci;object=cur' --new-key 'pkcs11:token=ci;object=next'";

pub const CERT_NEW_EXAMPLES: &str = if cfg!(windows) {
    "\
The key is written with an ACL of only you and SYSTEM; nothing is overwritten.
Upload the certificate (never the key) under the app registration's Certificates & secrets, or
register it with the manifest entry from `graphd cert show --manifest`. To sign from the Windows
certificate store instead, import the PKCS#12 (Import-PfxCertificate) and use --cert-store.

Examples:
  graphd cert new --out-cert cert.pem --out-key key.pem --subject CN=my-daemon
  graphd cert new --out-cert ci.pem --out-key ci.key --hours 24
  $env:AZURE_CLIENT_CERTIFICATE_PASSWORD = '...'; graphd cert new --out-cert c.pem --out-key k.pem --pfx c.pfx"
} else {
    "\
The key is written with mode 0600; nothing is overwritten. Upload the certificate (never the
key) under the app registration's Certificates & secrets, or register it with the manifest
entry from `graphd cert show --manifest`.

Examples:
  graphd cert new --out-cert cert.pem --out-key key.pem --subject CN=my-daemon
  graphd cert new --out-cert ci.pem --out-key ci.key --hours 24
  AZURE_CLIENT_CERTIFICATE_PASSWORD=... graphd cert new --out-cert c.pem --out-key k.pem --pfx c.pfx

With --key 'pkcs11:...' the key pair is made inside the token (never extractable, sign only),
the token signs the certificate, and no key file is written (see docs/keys-in-hardware.md):
  graphd cert new --key 'pkcs11:token=graphd;object=app-key' --out-cert app.pem --store-cert"
};

pub const CERT_SHOW_EXAMPLES: &str = "\
Examples:
  graphd cert show cert.pem
  graphd cert show app.pfx --json          # password from AZURE_CLIENT_CERTIFICATE_PASSWORD or a prompt
  graphd cert show cert.pem --manifest     # the keyCredentials entry for the app manifest
  graphd cert show 'pkcs11:token=graphd;object=app-key'   # a token key: its certificate, extractable or not";

pub const USERS_EXAMPLES: &str = if cfg!(windows) {
    "\
--search, --count, and --filter with ne/not/endswith or with --orderby are advanced queries:
graphd sends `ConsistencyLevel: eventual` on every page (and $count=true) for them.

Incremental sync (docs/syncing.md): with --delta STATE the first run lists everyone and saves
the round's deltaLink in STATE once the last user is on stdout; later runs list only who was
added, changed or removed since. A run that fails leaves STATE as it was (at-least-once).

Examples:
  graphd users --tenant T --client-id C --cert-store CurrentUser\\My --thumbprint 3F2A...
  graphd users --cert C:\\graphd\\app.pfx -o csv --select id,displayName,mail > users.csv
  graphd users --search 'displayName:ada' --orderby displayName --count -o table
  graphd users --delta C:\\ProgramData\\graphd\\users.state --delta-report report.json -o jsonl"
} else {
    "\
--search, --count, and --filter with ne/not/endswith or with --orderby are advanced queries:
graphd sends `ConsistencyLevel: eventual` on every page (and $count=true) for them.

Incremental sync (docs/syncing.md): with --delta STATE the first run lists everyone from
/users/delta and saves the round's deltaLink in STATE (mode 0600) once the last user is on
stdout; later runs list only who was added, changed or removed since (removed ones carry
\"@removed\": {\"reason\": \"changed\"|\"deleted\"}). A run that fails leaves STATE as it was, so the
next run repeats the round: every change is delivered at least once. --delta-report FILE says
whether a run delivered a full set (replace your copy) or a change set (apply it).

Examples:
  graphd users --cert cert.pem --key key.pem -o csv --select id,displayName,mail > users.csv
  graphd users --managed-identity              # on Azure: no stored credential at all
  graphd users --key 'pkcs11:token=graphd;object=app-key'   # a key that never leaves its token
  graphd users --delta /var/lib/sync/users.state --delta-report /var/lib/sync/report.json -o jsonl"
};

//! [`Info`]: how to reach and authenticate to a running emulator, which the binary writes as
//! its state file, and the atomic, private file writes the emulator uses for it and for the
//! generated key and certificates.

use crate::{Error, io_err};
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// How to reach and authenticate to a running emulator; also exactly the binary's state file.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Info {
    /// e.g. `https://127.0.0.1:40123` (no trailing slash).
    pub authority_host_url: String,
    /// e.g. `https://127.0.0.1:40124` (a separate listener; no trailing slash).
    pub graph_url: String,
    /// The test CA that issued both listeners' server certificate.
    pub ca_pem: PathBuf,
    pub tenant_id: String,
    /// `contoso.onmicrosoft.com`; the token endpoint accepts it or the GUID.
    pub tenant_domain: String,
    /// An app with the admin-consented application permission `User.Read.All`.
    pub client_id: String,
    pub client_secret: String,
    /// A second secret on the same app whose end date has passed (AADSTS7000222).
    pub expired_client_secret: String,
    /// A self-signed RSA-2048 certificate registered on the app (valid now-1h .. +365d).
    pub cert_pem: PathBuf,
    /// Its unencrypted PKCS#8 private key (mode 0600).
    pub key_pem: PathBuf,
    /// An app without `User.Read.All`: its tokens carry no `roles`, so Graph answers 403.
    pub noperm_client_id: String,
    pub noperm_client_secret: String,
    /// The main app's application object id (for `addKey`/`removeKey`; not its client id).
    pub app_object_id: String,
    /// The main app's federated identity credential: issuer, subject, audience.
    pub federated_issuer: String,
    pub federated_subject: String,
    pub federated_audience: String,
    /// `POST` here (body `{}` or a `FederatedTokenSpec`) returns a freshly minted CI token.
    pub federated_token_url: String,
    pub pid: u32,
    /// A third listener on another port (so another origin) with the same trusted certificate:
    /// hostile next links and redirects point here, and it records whether anything reached it.
    #[serde(default)]
    pub foreign_url: String,
    /// `POST` JSON operations here to change the directory or expire delta links while a
    /// client runs (see the `control` module docs for the operations).
    #[serde(default)]
    pub directory_url: String,

    // Managed identity (PROTOCOL.md §8). Ids of the three identities:
    /// The system-assigned identity (Graph role `User.Read.All`; trusted by the main app's
    /// managed-identity federated credential).
    #[serde(default)]
    pub mi_system_client_id: String,
    #[serde(default)]
    pub mi_system_object_id: String,
    /// User-assigned identity #1 (Graph role `User.Read.All`).
    #[serde(default)]
    pub mi_user1_client_id: String,
    #[serde(default)]
    pub mi_user1_object_id: String,
    /// `/subscriptions/<guid>/resourcegroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`.
    #[serde(default)]
    pub mi_user1_resource_id: String,
    /// User-assigned identity #2: no Graph role (its tokens get 403 on `/v1.0/users`).
    #[serde(default)]
    pub mi_user2_client_id: String,
    #[serde(default)]
    pub mi_user2_object_id: String,
    #[serde(default)]
    pub mi_user2_resource_id: String,
    /// IMDS's origin, `http://127.0.0.1:PORT`: the value of `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
    #[serde(default)]
    pub imds_url: String,
    /// App Service's `IDENTITY_ENDPOINT` (`http://127.0.0.1:PORT/MSI/token`) and `IDENTITY_HEADER`.
    #[serde(default)]
    pub app_service_identity_endpoint: String,
    #[serde(default)]
    pub app_service_identity_header: String,
    /// Azure Arc's `IDENTITY_ENDPOINT` (`http://127.0.0.1:PORT/metadata/identity/oauth2/token`)
    /// and `IMDS_ENDPOINT` (the same origin).
    #[serde(default)]
    pub arc_identity_endpoint: String,
    #[serde(default)]
    pub arc_imds_endpoint: String,
    /// Where the Arc endpoint writes its challenge files.
    #[serde(default)]
    pub arc_token_dir: PathBuf,
    /// Cloud Shell's `MSI_ENDPOINT` (`http://127.0.0.1:PORT/oauth2/token`), and the signed-in
    /// user its delegated tokens are for.
    #[serde(default)]
    pub cloud_shell_msi_endpoint: String,
    #[serde(default)]
    pub cloud_shell_user_upn: String,
    #[serde(default)]
    pub cloud_shell_user_object_id: String,
    /// Service Fabric's `IDENTITY_ENDPOINT` (`https://127.0.0.1:PORT/metadata/identity/oauth2/token`),
    /// `IDENTITY_HEADER` and `IDENTITY_SERVER_THUMBPRINT` (uppercase hex SHA-1 of its
    /// self-signed server certificate's DER, which is not issued by `ca_pem`).
    #[serde(default)]
    pub service_fabric_endpoint: String,
    #[serde(default)]
    pub service_fabric_identity_header: String,
    #[serde(default)]
    pub service_fabric_server_thumbprint: String,
    /// That certificate as PEM.
    #[serde(default)]
    pub service_fabric_cert_pem: PathBuf,
    /// `iss` of managed identities' token-exchange tokens: `{authority_host_url}/{tenant_id}/v2.0`,
    /// the issuer of the main app's managed-identity federated credential.
    #[serde(default)]
    pub mi_federated_issuer: String,
    /// The resource to ask a managed identity for to get a token-exchange token, and that
    /// token's `aud`: `api://AzureADTokenExchange`.
    #[serde(default)]
    pub token_exchange_audience: String,
}

impl Info {
    /// Writes this as JSON to `path` with mode 0600: a temp file in the same directory, renamed
    /// into place, so readers never see a partial file.
    pub fn write_state_file(&self, path: &Path) -> Result<(), Error> {
        let json = serde_json::to_vec_pretty(self).unwrap_or_default();
        write_private(path, &json)
    }
}

/// Writes `bytes` to `path` via a 0600 temp file in the same directory and a rename.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomic(path, bytes, 0o600)
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err("create", &tmp))?;
    f.write_all(bytes).map_err(io_err("write", &tmp))?;
    f.sync_all().map_err(io_err("sync", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("rename a temp file onto", path)(e)
    })
}

//! Managed identity (PROTOCOL.md §8): the platform endpoints that hand a process on Azure a token
//! with no stored credential, each on its own loopback listener with the checks the real one
//! makes — IMDS (`imds`), App Service / Functions (`appservice`), Azure Arc with its challenge
//! file (`arc`), Cloud Shell's delegated user token (`cloudshell`) and Service Fabric over https
//! with a self-signed certificate (`servicefabric`) — plus the token-exchange token a managed
//! identity presents as an app's federated credential (`exchange`, which the token endpoint
//! also calls to accept it).
//!
//! This module owns the identities (one system-assigned, two user-assigned, each with its own
//! Graph roles), the selection of one by a request's selector, each source's error-body shape
//! and the log record. `tokens` mints their tokens with the tenant key (so Graph accepts them
//! like app tokens), `faults` holds the per-source fault queue, `server` the listeners and the
//! request path they share. Nothing here changes how the authority or Graph treat apps; Graph
//! only learned to accept `scp` for Cloud Shell's delegated token.
//!
//! Sources (request and response shapes are in each submodule's docs):
//! - the IMDS token docs: <https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token>
//! - App Service: <https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference>
//! - Arc: <https://learn.microsoft.com/azure/azure-arc/servers/managed-identity-authentication>
//! - Service Fabric: <https://learn.microsoft.com/azure/service-fabric/how-to-managed-identity-service-fabric-app-code>
//! - MSAL Python's `msal/managed_identity.py` and MSAL .NET's `ServiceFabricManagedIdentitySource.cs`
//!   for what clients actually send and parse.

mod appservice;
mod arc;
mod cloudshell;
mod control;
pub(crate) mod exchange;
mod faults;
mod imds;
mod server;
mod servicefabric;
mod tokens;

use crate::util::guid;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

pub use exchange::TOKEN_EXCHANGE_AUDIENCE;
pub use faults::{MiFault, MiFaultKind};
pub(crate) use server::Listeners;
pub(crate) use servicefabric::ServerCert;
pub(crate) use tokens::{
    Minted, Target, imds_body, mint_for_cloud_shell_user, mint_for_identity, target,
    unknown_resource_message,
};

/// Which managed-identity endpoint a request came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MiSource {
    /// The Instance Metadata Service of VMs, scale sets and AKS (plain http).
    Imds,
    /// App Service and Azure Functions (plain http, `X-IDENTITY-HEADER`).
    AppService,
    /// Azure Arc-enabled servers (plain http, a challenge file).
    Arc,
    /// Azure Cloud Shell (plain http, POST, the signed-in user's token).
    CloudShell,
    /// Service Fabric (https with a self-signed server certificate, `secret` header).
    ServiceFabric,
}

impl MiSource {
    /// The name used in the request log.
    pub fn name(self) -> &'static str {
        match self {
            MiSource::Imds => "imds",
            MiSource::AppService => "app_service",
            MiSource::Arc => "arc",
            MiSource::CloudShell => "cloud_shell",
            MiSource::ServiceFabric => "service_fabric",
        }
    }
}

/// One of the emulator's three managed identities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MiIdentity {
    /// The system-assigned identity: Graph role `User.Read.All`; trusted by the main app's
    /// federated identity credential.
    System,
    /// User-assigned #1: Graph role `User.Read.All`.
    User1,
    /// User-assigned #2: no Graph role (Graph answers 403 `Authorization_RequestDenied`).
    User2,
}

impl MiIdentity {
    pub fn name(self) -> &'static str {
        match self {
            MiIdentity::System => "system",
            MiIdentity::User1 => "user1",
            MiIdentity::User2 => "user2",
        }
    }
}

/// One request to a managed-identity endpoint. Header *presence* only: the values of
/// `X-IDENTITY-HEADER`, `secret` and `Authorization` are secrets and never logged (they are
/// kept in memory for `Emulator::secrets_seen` and `Emulator::arc_authorizations`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManagedIdentityRecord {
    /// `imds`, `app_service`, `arc`, `cloud_shell` or `service_fabric`.
    pub source: String,
    pub method: String,
    /// The path as sent.
    pub path: String,
    /// The query as sent (it carries no secret: ids, resource, api-version).
    pub raw_query: Option<String>,
    /// A `Metadata` header was present (whatever its value).
    pub metadata: bool,
    /// An `X-IDENTITY-HEADER` header was present.
    pub identity_header: bool,
    /// A `secret` header was present.
    pub secret_header: bool,
    /// An `Authorization` header was present.
    pub authorization: bool,
    /// An `X-Forwarded-For` header was present.
    pub x_forwarded_for: bool,
    /// `api-version` as sent.
    pub api_version: Option<String>,
    /// `resource` as sent (query, or form body for Cloud Shell).
    pub resource: Option<String>,
    /// The selector parameter sent, e.g. `client_id=...` (names and ids are not secret).
    pub selector: Option<String>,
    /// The identity a token was issued for: `system`, `user1`, `user2` or `cloud_shell_user`.
    pub identity: Option<String>,
    /// `graph` or `token_exchange` when a token was issued.
    pub token_kind: Option<String>,
    /// 0 when no answer was sent (the `NoAnswer` fault).
    pub status: u16,
    /// The `error` / code of a refusal.
    pub error: Option<String>,
    /// The armed fault that answered (or delayed) this request.
    pub fault: Option<String>,
}

/// A managed identity's service principal.
pub(crate) struct Identity {
    pub which: MiIdentity,
    pub client_id: String,
    pub object_id: String,
    /// User-assigned only: `/subscriptions/.../userAssignedIdentities/<name>`.
    pub resource_id: Option<String>,
    pub display_name: String,
    /// Graph application roles granted to it (empty: tokens without `roles`).
    pub roles: Vec<String>,
}

/// The user signed in to Cloud Shell (one of the directory's users).
pub(crate) struct CloudShellUser {
    pub object_id: String,
    pub upn: String,
    pub display_name: String,
}

/// Everything the managed-identity endpoints share.
pub(crate) struct ManagedIdentities {
    pub identities: [Identity; 3],
    pub cloud_shell_user: CloudShellUser,
    pub app_service_header: String,
    pub service_fabric_header: String,
    /// The identity Service Fabric hands out (chosen "at deployment").
    pub service_fabric_identity: Mutex<MiIdentity>,
    /// Service Fabric's `expires_on` as a JSON string instead of the documented number.
    pub service_fabric_string_expires_on: AtomicBool,
    pub arc: arc::ArcState,
    /// `iss` of token-exchange tokens: `{authority}/{tenant}/v2.0`.
    pub issuer: String,
    /// Object ids the main app's managed-identity federated credentials trust as `sub`.
    pub trusted_subjects: RwLock<Vec<String>>,
    /// Armed faults.
    pub faults: faults::Faults,
}

/// What `Emulator::start` learns about the identities, for `Info`.
pub(crate) struct Ids {
    pub system: (String, String),
    pub user1: (String, String, String),
    pub user2: (String, String, String),
}

fn user_assigned(which: MiIdentity, name: &str, roles: Vec<String>) -> Identity {
    let resource_id = format!(
        "/subscriptions/{}/resourcegroups/graphd-emulator-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
        guid()
    );
    Identity {
        which,
        client_id: guid(),
        object_id: guid(),
        resource_id: Some(resource_id),
        display_name: name.into(),
        roles,
    }
}

impl ManagedIdentities {
    /// Generates the identities and header secrets; `arc_dir` is where Arc's challenge files go.
    pub(crate) fn new(
        authority_url: &str,
        tenant_id: &str,
        cloud_shell_user: CloudShellUser,
        arc_dir: PathBuf,
    ) -> ManagedIdentities {
        let read = || vec!["User.Read.All".to_string()];
        let system = Identity {
            which: MiIdentity::System,
            client_id: guid(),
            object_id: guid(),
            resource_id: None,
            display_name: "graphd-emulator-vm".into(),
            roles: read(),
        };
        let trusted = vec![system.object_id.clone()];
        ManagedIdentities {
            identities: [
                system,
                user_assigned(MiIdentity::User1, "graphd-emulator-identity-1", read()),
                user_assigned(MiIdentity::User2, "graphd-emulator-identity-2", Vec::new()),
            ],
            cloud_shell_user,
            app_service_header: guid(),
            service_fabric_header: guid(),
            service_fabric_identity: Mutex::new(MiIdentity::System),
            service_fabric_string_expires_on: AtomicBool::new(false),
            arc: arc::ArcState::new(arc_dir),
            issuer: exchange::issuer(authority_url, tenant_id),
            trusted_subjects: RwLock::new(trusted),
            faults: faults::Faults::default(),
        }
    }

    pub(crate) fn ids(&self) -> Ids {
        let [s, u1, u2] = &self.identities;
        let user = |i: &Identity| {
            (
                i.client_id.clone(),
                i.object_id.clone(),
                i.resource_id.clone().unwrap_or_default(),
            )
        };
        Ids {
            system: (s.client_id.clone(), s.object_id.clone()),
            user1: user(u1),
            user2: user(u2),
        }
    }

    pub(crate) fn identity(&self, which: MiIdentity) -> &Identity {
        match which {
            MiIdentity::System => &self.identities[0],
            MiIdentity::User1 => &self.identities[1],
            MiIdentity::User2 => &self.identities[2],
        }
    }

    /// The identity a selector names (the system-assigned one without a selector).
    fn select(&self, selector: Option<&Selector>) -> Option<&Identity> {
        let Some(sel) = selector else {
            return Some(self.identity(MiIdentity::System));
        };
        self.identities.iter().find(|i| match sel.kind {
            SelectorKind::Client => i.client_id.eq_ignore_ascii_case(&sel.value),
            SelectorKind::Object => i.object_id.eq_ignore_ascii_case(&sel.value),
            SelectorKind::Resource => i
                .resource_id
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(&sel.value)),
        })
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How a request names a user-assigned identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SelectorKind {
    /// By client (application) id.
    Client,
    /// By object (principal) id.
    Object,
    /// By Azure resource id.
    Resource,
}

#[derive(Clone, Debug)]
pub(crate) struct Selector {
    /// The parameter as sent (`client_id`, `object_id`, `principal_id`, `msi_res_id`, ...).
    pub param: String,
    pub kind: SelectorKind,
    pub value: String,
}

/// A request, read once, with the helpers every source needs.
pub(crate) struct MiRequest {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl MiRequest {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The query parameters decoded, in order; a parameter given twice is `Err(name)`.
    pub(crate) fn query(&self) -> Result<Vec<(String, String)>, String> {
        decode_pairs(self.uri.query().unwrap_or("").as_bytes())
    }
}

/// `a=1&b=2` decoded; a repeated name is `Err(name)`.
pub(crate) fn decode_pairs(raw: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(k.into_owned());
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

pub(crate) fn param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The selector among `params`, given which parameter names mean what for this source.
/// `Err` names every selector sent when more than one was.
pub(crate) fn selector(
    params: &[(String, String)],
    names: &[(&str, SelectorKind)],
) -> Result<Option<Selector>, String> {
    let found: Vec<Selector> = params
        .iter()
        .filter_map(|(k, v)| {
            names
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, kind)| Selector {
                    param: k.clone(),
                    kind: *kind,
                    value: v.clone(),
                })
        })
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => Err(many
            .iter()
            .map(|s| s.param.as_str())
            .collect::<Vec<_>>()
            .join(", ")),
    }
}

/// Every selector parameter any source knows, for the sources that take none.
pub(crate) const ALL_SELECTORS: [&str; 6] = [
    "client_id",
    "object_id",
    "principal_id",
    "msi_res_id",
    "mi_res_id",
    "clientid",
];

/// A JSON response with `Content-Type: application/json; charset=utf-8`.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// A refusal in `source`'s error shape. `code` is the `error` (IMDS, Arc, Cloud Shell), the
/// `error.code` (Service Fabric) or unused (App Service, whose body is `statusCode` + `message`).
pub(crate) fn error_response(
    source: MiSource,
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response {
    let body = match source {
        MiSource::Imds | MiSource::Arc | MiSource::CloudShell => json!({
            "error": code,
            "error_description": message,
        }),
        MiSource::AppService => json!({
            "statusCode": status.as_u16(),
            "message": message,
            "correlationId": guid(),
        }),
        MiSource::ServiceFabric => json!({
            "error": {
                "correlationId": guid(),
                "code": code,
                "message": message,
            }
        }),
    };
    json_response(status, &body)
}

/// A refusal: what the record notes and what the client gets.
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

pub(crate) fn refuse(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> Refusal {
    Refusal {
        status,
        code,
        message: message.into(),
    }
}

/// What a source's handler returns: a response, and what the log should say about it.
pub(crate) struct Outcome {
    pub response: Response,
    pub error: Option<String>,
    pub minted: Option<(String, Target)>,
}

impl Outcome {
    pub(crate) fn refused(source: MiSource, r: Refusal) -> Outcome {
        Outcome {
            response: error_response(source, r.status, r.code, &r.message),
            error: Some(r.code.to_owned()),
            minted: None,
        }
    }

    pub(crate) fn issued(response: Response, m: &Minted) -> Outcome {
        Outcome {
            response,
            error: None,
            minted: Some((m.identity.clone(), m.target)),
        }
    }
}

/// Each source's answer when the selected identity is not assigned.
pub(crate) fn identity_not_found(source: MiSource) -> Refusal {
    match source {
        MiSource::AppService => refuse(
            StatusCode::BAD_REQUEST,
            "identity_not_found",
            "Unable to load the proper Managed Identity.",
        ),
        MiSource::ServiceFabric => refuse(
            StatusCode::NOT_FOUND,
            "ManagedIdentityNotFound",
            "Managed identity not found for the specified application host.",
        ),
        MiSource::Imds | MiSource::Arc | MiSource::CloudShell => refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found",
        ),
    }
}

/// The path of the token endpoint on IMDS, Arc and Service Fabric.
pub(crate) const TOKEN_PATH: &str = "/metadata/identity/oauth2/token";

/// Whether `Metadata: true` was sent exactly (IMDS wants it "in all lower case").
pub(crate) fn has_metadata_true(req: &MiRequest) -> bool {
    req.header("metadata") == Some("true")
}

/// Whether `version` is a `YYYY-MM-DD` date on or after `min` (the endpoints that say "use
/// api-version X or later").
pub(crate) fn version_at_least(version: Option<&str>, min: &str) -> bool {
    version.is_some_and(|v| {
        v.len() == 10
            && v.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            })
            && v >= min
    })
}

impl ManagedIdentities {
    /// `Emulator::set_service_fabric_string_expires_on`.
    pub(crate) fn set_service_fabric_string_expires_on(&self, on: bool) {
        self.service_fabric_string_expires_on
            .store(on, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests;

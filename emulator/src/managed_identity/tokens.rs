//! The tokens the endpoints hand out, minted with the tenant key so Graph accepts them like an
//! app's: a managed identity's Graph token (its roles, `appidacr` "2", `xms_mirid` for
//! user-assigned ones) or token-exchange token, and Cloud Shell's delegated user token; and the
//! IMDS-shaped success body (numbers as strings) three sources share.

use super::{Identity, exchange};
use crate::jwt::AccessClaims;
use crate::state::Shared;
use crate::util::{b64url, now_unix, random_bytes};
use serde_json::{Value, json};

/// The Azure CLI's public client id: Cloud Shell's tokens are issued to it.
pub(crate) const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// What a `resource` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// The emulator's Graph (its origin, with or without one trailing `/`).
    Graph,
    /// `api://AzureADTokenExchange`: a token to present as an app's federated credential.
    Exchange,
}

impl Target {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Target::Graph => "graph",
            Target::Exchange => "token_exchange",
        }
    }
}

/// The resource's target, or `None` for one this tenant does not know (AADSTS500011 upstream).
pub(crate) fn target(s: &Shared, resource: &str) -> Option<Target> {
    if resource == s.graph_url || resource.strip_suffix('/') == Some(s.graph_url.as_str()) {
        Some(Target::Graph)
    } else if resource == exchange::TOKEN_EXCHANGE_AUDIENCE {
        Some(Target::Exchange)
    } else {
        None
    }
}

/// The message Entra gives (through the endpoint) for a resource it does not know.
pub(crate) fn unknown_resource_message(s: &Shared, resource: &str) -> String {
    format!(
        "AADSTS500011: The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
        s.tenant_id
    )
}

/// An issued token and the numbers the responses carry.
pub(crate) struct Minted {
    pub access_token: String,
    pub client_id: String,
    pub not_before: i64,
    pub expires_on: i64,
    pub lifetime: i64,
    pub identity: String,
    pub target: Target,
}

fn lifetime(s: &Shared) -> i64 {
    i64::try_from(s.token_lifetime_secs).unwrap_or(i64::MAX / 4)
}

/// A token for a managed identity: a Graph access token (like an app's, with the identity's
/// roles and `xms_mirid`) or a token-exchange token.
pub(crate) fn mint_for_identity(
    s: &Shared,
    id: &Identity,
    target: Target,
) -> Result<Minted, openssl::error::ErrorStack> {
    let now = now_unix();
    let life = lifetime(s);
    let access_token = match target {
        Target::Graph => s.token_key.issue(&AccessClaims {
            aud: s.graph_url.clone(),
            iss: s.token_issuer(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(life),
            app_displayname: id.display_name.clone(),
            appid: id.client_id.clone(),
            // Managed identities authenticate with a certificate the platform holds.
            appidacr: "2".into(),
            idp: s.token_issuer(),
            idtyp: "app".into(),
            oid: id.object_id.clone(),
            roles: (!id.roles.is_empty()).then(|| id.roles.clone()),
            sub: id.object_id.clone(),
            tid: s.tenant_id.clone(),
            uti: b64url(&random_bytes(16)),
            ver: "1.0".into(),
            xms_mirid: id.resource_id.clone(),
            ..Default::default()
        })?,
        Target::Exchange => exchange::mint(s, id, now, life)?,
    };
    s.remember_secret(&access_token);
    Ok(Minted {
        access_token,
        client_id: id.client_id.clone(),
        not_before: now,
        expires_on: now.saturating_add(life),
        lifetime: life,
        identity: id.which.name().into(),
        target,
    })
}

/// Cloud Shell's token: the signed-in user's, delegated, issued to the Azure CLI.
pub(crate) fn mint_for_cloud_shell_user(s: &Shared) -> Result<Minted, openssl::error::ErrorStack> {
    let u = &s.mi.cloud_shell_user;
    let now = now_unix();
    let life = lifetime(s);
    let access_token = s.token_key.issue(&AccessClaims {
        aud: s.graph_url.clone(),
        iss: s.token_issuer(),
        iat: now,
        nbf: now,
        exp: now.saturating_add(life),
        app_displayname: "Microsoft Azure CLI".into(),
        appid: AZURE_CLI_CLIENT_ID.into(),
        // A public client: no client authentication.
        appidacr: "0".into(),
        idp: s.token_issuer(),
        idtyp: "user".into(),
        oid: u.object_id.clone(),
        roles: None,
        // A pairwise subject, as Entra gives delegated tokens.
        sub: b64url(&random_bytes(32)),
        tid: s.tenant_id.clone(),
        uti: b64url(&random_bytes(16)),
        ver: "1.0".into(),
        scp: Some("User.Read User.Read.All".into()),
        upn: Some(u.upn.clone()),
        name: Some(u.display_name.clone()),
        xms_mirid: None,
    })?;
    s.remember_secret(&access_token);
    Ok(Minted {
        access_token,
        client_id: AZURE_CLI_CLIENT_ID.into(),
        not_before: now,
        expires_on: now.saturating_add(life),
        lifetime: life,
        identity: "cloud_shell_user".into(),
        target: Target::Graph,
    })
}

/// The IMDS-shaped success body (IMDS, Arc, Cloud Shell): every number a string.
pub(crate) fn imds_body(m: &Minted, resource: &str) -> Value {
    json!({
        "access_token": m.access_token,
        "client_id": m.client_id,
        "expires_in": m.lifetime.to_string(),
        "expires_on": m.expires_on.to_string(),
        "ext_expires_in": m.lifetime.to_string(),
        "not_before": m.not_before.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    })
}

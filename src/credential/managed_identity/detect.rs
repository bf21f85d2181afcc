//! Which identity endpoint this process has, read from the environment in the order MSAL
//! (`get_managed_identity_source`) and azure-identity use (PROTOCOL.md §8):
//!
//! 1. `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` + `IDENTITY_SERVER_THUMBPRINT`: Service Fabric;
//! 2. `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`: App Service, Functions;
//! 3. `MSI_ENDPOINT` + `MSI_SECRET`: Azure Machine Learning (not supported: refused by name);
//! 4. `IDENTITY_ENDPOINT` + `IMDS_ENDPOINT`, or the Arc agent installed
//!    (`/opt/azcmagent/bin/himds`, `%ProgramFiles%\AzureConnectedMachineAgent\himds.exe`, as MSAL
//!    checks) with its fixed endpoint: Azure Arc;
//! 5. `MSI_ENDPOINT` alone: Cloud Shell;
//! 6. otherwise IMDS, at `AZURE_POD_IDENTITY_AUTHORITY_HOST` if set, else 169.254.169.254.
//!
//! Empty variables count as unset. Pure: the environment comes in as a lookup function and
//! the agent check as a boolean, so tests need neither. Nothing here is validated (URLs are
//! checked when the credential is loaded) and the `IDENTITY_HEADER` is kept in its secret type.

use std::fmt;

use crate::names::{
    ENV_IDENTITY_ENDPOINT, ENV_IDENTITY_HEADER, ENV_IDENTITY_SERVER_THUMBPRINT, ENV_IMDS_ENDPOINT,
    ENV_MSI_ENDPOINT, ENV_MSI_SECRET, ENV_POD_IDENTITY_AUTHORITY_HOST,
};
use crate::secret::IdentityHeader;

/// IMDS's address on every Azure VM (link-local).
pub const IMDS_AUTHORITY: &str = "http://169.254.169.254";
/// The token path of IMDS (and of Arc's and Service Fabric's endpoints).
pub const IMDS_TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
/// Azure Arc's endpoint when the agent is installed but the variables are not set (MSAL's).
pub const ARC_DEFAULT_ENDPOINT: &str = "http://localhost:40342/metadata/identity/oauth2/token";

/// A platform's identity endpoint as the environment names it (not yet checked).
pub enum Platform {
    /// App Service, Functions (and Azure Automation): `X-IDENTITY-HEADER`.
    AppService {
        endpoint: String,
        header: IdentityHeader,
    },
    /// Service Fabric: https, its certificate trusted by thumbprint, header `secret`.
    ServiceFabric {
        endpoint: String,
        header: IdentityHeader,
        thumbprint: String,
    },
    /// Azure Machine Learning: detected only to be refused by name.
    AzureMl,
    /// Azure Arc-enabled servers: a challenge file in the agent's token directory.
    Arc { endpoint: String },
    /// Azure Cloud Shell: the signed-in user's (delegated) token.
    CloudShell { endpoint: String },
    /// The Instance Metadata Service: VMs, scale sets, AKS pod-managed identity.
    Imds { authority: String },
}

impl Platform {
    /// The platform's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Platform::AppService { .. } => "App Service",
            Platform::ServiceFabric { .. } => "Service Fabric",
            Platform::AzureMl => "Azure Machine Learning",
            Platform::Arc { .. } => "Azure Arc",
            Platform::CloudShell { .. } => "Cloud Shell",
            Platform::Imds { .. } => "IMDS",
        }
    }

    /// The endpoint as given, any user info in it redacted (such a URL is refused later).
    pub fn endpoint(&self) -> String {
        match self {
            Platform::AppService { endpoint, .. }
            | Platform::ServiceFabric { endpoint, .. }
            | Platform::Arc { endpoint }
            | Platform::CloudShell { endpoint } => super::error::shown_endpoint(endpoint, 500),
            Platform::AzureMl => "-".into(),
            Platform::Imds { authority } => {
                format!("{}{IMDS_TOKEN_PATH}", authority.trim_end_matches('/'))
            }
        }
    }

    /// Whether a user-assigned identity can be chosen per request (IMDS and App Service only:
    /// Arc and Cloud Shell have one identity, Service Fabric chooses at deployment).
    pub fn takes_selector(&self) -> bool {
        matches!(self, Platform::AppService { .. } | Platform::Imds { .. })
    }
}

// By hand: the identity header never prints.
impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.name(), self.endpoint())
    }
}

/// The platform found, and why (which variables), for `config show` and hints.
#[derive(Debug)]
pub struct Detection {
    pub platform: Platform,
    pub why: String,
}

/// Finds the platform from `var` (an environment lookup) and whether the Arc agent is
/// installed on this machine.
pub fn detect(var: &dyn Fn(&str) -> Option<String>, arc_agent_installed: bool) -> Detection {
    let get = |name: &str| var(name).filter(|v| !v.is_empty());
    let identity_endpoint = get(ENV_IDENTITY_ENDPOINT);
    let identity_header = get(ENV_IDENTITY_HEADER);
    if let (Some(endpoint), Some(header)) = (&identity_endpoint, identity_header) {
        let header = IdentityHeader::new(header);
        return match get(ENV_IDENTITY_SERVER_THUMBPRINT) {
            Some(thumbprint) => Detection {
                platform: Platform::ServiceFabric {
                    endpoint: endpoint.clone(),
                    header,
                    thumbprint,
                },
                why: format!(
                    "{ENV_IDENTITY_ENDPOINT}, {ENV_IDENTITY_HEADER} and {ENV_IDENTITY_SERVER_THUMBPRINT} are set"
                ),
            },
            None => Detection {
                platform: Platform::AppService {
                    endpoint: endpoint.clone(),
                    header,
                },
                why: format!(
                    "{ENV_IDENTITY_ENDPOINT} and {ENV_IDENTITY_HEADER} are set (no {ENV_IDENTITY_SERVER_THUMBPRINT})"
                ),
            },
        };
    }
    let msi_endpoint = get(ENV_MSI_ENDPOINT);
    if msi_endpoint.is_some() && get(ENV_MSI_SECRET).is_some() {
        return Detection {
            platform: Platform::AzureMl,
            why: format!("{ENV_MSI_ENDPOINT} and {ENV_MSI_SECRET} are set"),
        };
    }
    if let (Some(endpoint), Some(_)) = (&identity_endpoint, get(ENV_IMDS_ENDPOINT)) {
        return Detection {
            platform: Platform::Arc {
                endpoint: endpoint.clone(),
            },
            why: format!("{ENV_IDENTITY_ENDPOINT} and {ENV_IMDS_ENDPOINT} are set"),
        };
    }
    if arc_agent_installed {
        return Detection {
            platform: Platform::Arc {
                endpoint: ARC_DEFAULT_ENDPOINT.into(),
            },
            why: format!("the Azure Arc agent is installed ({ARC_AGENT})"),
        };
    }
    if let Some(endpoint) = msi_endpoint {
        return Detection {
            platform: Platform::CloudShell { endpoint },
            why: format!("{ENV_MSI_ENDPOINT} is set (without {ENV_MSI_SECRET})"),
        };
    }
    match get(ENV_POD_IDENTITY_AUTHORITY_HOST) {
        Some(authority) => Detection {
            platform: Platform::Imds { authority },
            why: format!(
                "no other platform's variables are set; {ENV_POD_IDENTITY_AUTHORITY_HOST} names IMDS's host"
            ),
        },
        None => Detection {
            platform: Platform::Imds {
                authority: IMDS_AUTHORITY.into(),
            },
            why: format!(
                "none of {ENV_IDENTITY_ENDPOINT}, {ENV_MSI_ENDPOINT}, {ENV_POD_IDENTITY_AUTHORITY_HOST} is set: IMDS at its link-local address"
            ),
        },
    }
}

/// Where MSAL looks for the Arc agent's binary.
#[cfg(windows)]
const ARC_AGENT: &str = r"%ProgramFiles%\AzureConnectedMachineAgent\himds.exe";
#[cfg(not(windows))]
const ARC_AGENT: &str = "/opt/azcmagent/bin/himds";

/// Whether the Azure Arc agent is installed here (the fallback MSAL uses when the variables
/// are not set).
pub fn arc_agent_installed() -> bool {
    #[cfg(windows)]
    {
        std::env::var_os("ProgramFiles").is_some_and(|p| {
            std::path::Path::new(&p)
                .join(r"AzureConnectedMachineAgent\himds.exe")
                .is_file()
        })
    }
    #[cfg(target_os = "linux")]
    {
        std::path::Path::new(ARC_AGENT).is_file()
    }
    #[cfg(not(any(windows, target_os = "linux")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)], arc: bool) -> Detection {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        detect(
            &|n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()),
            arc,
        )
    }

    #[test]
    fn the_order_msal_uses() {
        let all = [
            (ENV_IDENTITY_ENDPOINT, "http://127.0.0.1:1/x"),
            (ENV_IDENTITY_HEADER, "h"),
            (ENV_IDENTITY_SERVER_THUMBPRINT, "AB"),
            (ENV_IMDS_ENDPOINT, "http://127.0.0.1:1"),
            (ENV_MSI_ENDPOINT, "http://127.0.0.1:2/x"),
            (ENV_MSI_SECRET, "s"),
        ];
        let name = |n: usize, arc| with(&all[n..], arc).platform.name();
        assert_eq!(name(0, false), "Service Fabric");
        assert_eq!(with(&all[..2], false).platform.name(), "App Service");
        assert_eq!(name(3, false), "Azure Machine Learning");
        assert_eq!(
            with(&[all[0], all[3], all[4]], false).platform.name(),
            "Azure Arc"
        );
        assert_eq!(with(&[all[4]], false).platform.name(), "Cloud Shell");
        assert_eq!(with(&[all[4]], true).platform.name(), "Azure Arc");
        assert_eq!(with(&[], false).platform.name(), "IMDS");
        // IDENTITY_ENDPOINT alone names nothing: IMDS.
        assert_eq!(with(&[all[0]], false).platform.name(), "IMDS");
        // Empty counts as unset.
        assert_eq!(
            with(&[all[0], (ENV_IDENTITY_HEADER, "")], false)
                .platform
                .name(),
            "IMDS"
        );
    }

    #[test]
    fn imds_host_and_why() {
        let d = with(&[], false);
        assert_eq!(
            d.platform.endpoint(),
            "http://169.254.169.254/metadata/identity/oauth2/token"
        );
        assert!(d.why.contains("link-local"), "{}", d.why);
        let d = with(
            &[(ENV_POD_IDENTITY_AUTHORITY_HOST, "http://127.0.0.1:9/")],
            false,
        );
        assert_eq!(
            d.platform.endpoint(),
            "http://127.0.0.1:9/metadata/identity/oauth2/token"
        );
        assert!(d.why.contains(ENV_POD_IDENTITY_AUTHORITY_HOST));
        let d = with(&[], true);
        assert_eq!(d.platform.endpoint(), ARC_DEFAULT_ENDPOINT);
    }

    #[test]
    fn debug_never_shows_the_header() {
        let d = with(
            &[
                (ENV_IDENTITY_ENDPOINT, "http://127.0.0.1:1/x"),
                (ENV_IDENTITY_HEADER, "canary-identity-header"),
            ],
            false,
        );
        let shown = format!("{d:?}");
        assert!(!shown.contains("canary"), "{shown}");
        assert!(shown.contains("App Service"), "{shown}");
    }
}

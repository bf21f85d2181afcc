//! The national clouds of PROTOCOL.md §5: each cloud's authority host and Graph host.
//!
//! Pure data: no I/O, no validation beyond the table. The scope follows from the Graph host
//! (`{graph}/.default`), so tokens are never requested for another cloud's Graph. The enum
//! derives `clap::ValueEnum` here, in its domain, for `--cloud`.

use clap::ValueEnum;

/// A national cloud (PROTOCOL.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Cloud {
    /// Microsoft's global cloud: login.microsoftonline.com, graph.microsoft.com
    Public,
    /// US Government L4 (GCC High): login.microsoftonline.us, graph.microsoft.us
    Usgov,
    /// US Government L5 (DoD): login.microsoftonline.us, dod-graph.microsoft.us
    UsgovDod,
    /// China (21Vianet): login.chinacloudapi.cn, microsoftgraph.chinacloudapi.cn
    China,
}

impl Cloud {
    /// Every cloud, in the table's order.
    pub const ALL: [Cloud; 4] = [Cloud::Public, Cloud::Usgov, Cloud::UsgovDod, Cloud::China];

    /// The Entra authority host of this cloud.
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Public => "https://login.microsoftonline.com",
            Cloud::Usgov | Cloud::UsgovDod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// The Microsoft Graph host of this cloud.
    pub fn graph_endpoint(self) -> &'static str {
        match self {
            Cloud::Public => "https://graph.microsoft.com",
            Cloud::Usgov => "https://graph.microsoft.us",
            Cloud::UsgovDod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The audience of a token a managed identity presents as an app's federated credential
    /// (PROTOCOL.md §8): the resource asked of the identity endpoint, and the audience the
    /// app's federated identity credential names.
    pub fn token_exchange_audience(self) -> &'static str {
        match self {
            Cloud::Public => "api://AzureADTokenExchange",
            Cloud::Usgov | Cloud::UsgovDod => "api://AzureADTokenExchangeUSGov",
            Cloud::China => "api://AzureADTokenExchangeChina",
        }
    }

    /// The name used in flags, profiles and `config show`.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Public => "public",
            Cloud::Usgov => "usgov",
            Cloud::UsgovDod => "usgov-dod",
            Cloud::China => "china",
        }
    }

    /// Parses a profile's `cloud = "..."` value.
    pub fn from_name(name: &str) -> Option<Cloud> {
        Cloud::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_table() {
        let rows: Vec<_> = Cloud::ALL
            .into_iter()
            .map(|c| (c.name(), c.authority_host(), c.graph_endpoint()))
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "public",
                    "https://login.microsoftonline.com",
                    "https://graph.microsoft.com"
                ),
                (
                    "usgov",
                    "https://login.microsoftonline.us",
                    "https://graph.microsoft.us"
                ),
                (
                    "usgov-dod",
                    "https://login.microsoftonline.us",
                    "https://dod-graph.microsoft.us"
                ),
                (
                    "china",
                    "https://login.chinacloudapi.cn",
                    "https://microsoftgraph.chinacloudapi.cn"
                ),
            ]
        );
        assert_eq!(
            Cloud::ALL.map(Cloud::token_exchange_audience),
            [
                "api://AzureADTokenExchange",
                "api://AzureADTokenExchangeUSGov",
                "api://AzureADTokenExchangeUSGov",
                "api://AzureADTokenExchangeChina"
            ]
        );
        assert_eq!(Cloud::from_name("USGOV-DOD"), Some(Cloud::UsgovDod));
        assert_eq!(Cloud::from_name("germany"), None);
        for c in Cloud::ALL {
            assert_eq!(
                c.to_possible_value().unwrap().get_name(),
                c.name(),
                "clap and profiles spell it the same"
            );
        }
    }
}

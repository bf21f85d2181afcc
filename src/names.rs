//! Every flag and environment-variable name that code outside `cli` uses, written once.
//!
//! A [`Name`] ties a global setting's clap id, its long flag and the environment variable that
//! stands for it. `cli` spells its flags with these (`env = names::TENANT.env`), `config` reads
//! origins and the variables clap does not read by these, and errors and hints quote them from
//! here. A unit test in `cli` checks that every `Name` matches the clap definition. Pure data:
//! this module imports nothing of graphd's.

/// One setting's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name {
    /// The clap argument id (the field name in `cli::GlobalArgs`).
    pub id: &'static str,
    /// The long flag, with its dashes.
    pub flag: &'static str,
    /// The environment variable standing for it (read by clap, or by `config` for credentials).
    pub env: &'static str,
}

const fn name(id: &'static str, flag: &'static str, env: &'static str) -> Name {
    Name { id, flag, env }
}

pub const TENANT: Name = name("tenant", "--tenant", "AZURE_TENANT_ID");
pub const CLIENT_ID: Name = name("client_id", "--client-id", "AZURE_CLIENT_ID");
pub const AUTHORITY_HOST: Name = name("authority_host", "--authority-host", "AZURE_AUTHORITY_HOST");
pub const GRAPH_ENDPOINT: Name = name(
    "graph_endpoint",
    "--graph-endpoint",
    "GRAPHD_GRAPH_ENDPOINT",
);
pub const CLOUD: Name = name("cloud", "--cloud", "GRAPHD_CLOUD");
pub const CONFIG: Name = name("config", "--config", "GRAPHD_CONFIG");
pub const PROFILE: Name = name("profile", "--profile", "GRAPHD_PROFILE");
pub const OUTPUT: Name = name("output", "--output", "GRAPHD_OUTPUT");
pub const COLOR: Name = name("color", "--color", "GRAPHD_COLOR");
pub const CA_BUNDLE: Name = name("ca_bundle", "--ca-bundle", "GRAPHD_CA_BUNDLE");
pub const VERBOSE: Name = name("verbose", "--verbose", "GRAPHD_VERBOSE");

// Credentials. The variables marked "read apart" are not clap `env`s: `config` reads them, so
// that a credential given by flag and another by env can be told apart ("two credentials").
pub const SECRET_STDIN: Name = name("secret_stdin", "--secret-stdin", "GRAPHD_SECRET_STDIN");
pub const SECRET_FILE: Name = name("secret_file", "--secret-file", "GRAPHD_SECRET_FILE");
/// `AZURE_CLIENT_CERTIFICATE_PATH` is read apart (azure-identity's name).
pub const CERT: Name = name("cert", "--cert", "AZURE_CLIENT_CERTIFICATE_PATH");
pub const KEY: Name = name("key", "--key", "GRAPHD_KEY");
pub const THUMBPRINT: Name = name("thumbprint", "--thumbprint", "GRAPHD_THUMBPRINT");
/// Windows only (hidden elsewhere): `LOCATION\STORE` with `--thumbprint`.
pub const CERT_STORE: Name = name("cert_store", "--cert-store", "GRAPHD_CERT_STORE");
/// `AZURE_FEDERATED_TOKEN_FILE` is read apart (azure-identity's name).
pub const FEDERATED_TOKEN_FILE: Name = name(
    "federated_token_file",
    "--federated-token-file",
    "AZURE_FEDERATED_TOKEN_FILE",
);
pub const CERT_PASSWORD_STDIN: Name = name(
    "cert_password_stdin",
    "--cert-password-stdin",
    "GRAPHD_CERT_PASSWORD_STDIN",
);
/// `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` (`1`/`true`) is read apart (azure-identity's name).
pub const SEND_X5C: Name = name(
    "send_x5c",
    "--send-x5c",
    "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
);
pub const ALLOW_INSECURE_KEY_FILE: Name = name(
    "allow_insecure_key_file",
    "--allow-insecure-key-file",
    "GRAPHD_ALLOW_INSECURE_KEY_FILE",
);
pub const ASSERTION_ALG: Name = name("assertion_alg", "--assertion-alg", "GRAPHD_ASSERTION_ALG");
pub const KEYRING: Name = name("keyring", "--keyring", "GRAPHD_KEYRING");
/// A managed identity: the platform's identity endpoint hands out the token.
pub const MANAGED_IDENTITY: Name = name(
    "managed_identity",
    "--managed-identity",
    "GRAPHD_MANAGED_IDENTITY",
);
/// A managed identity's token as the client assertion of the app (`--tenant`/`--client-id`).
pub const FEDERATED_MANAGED_IDENTITY: Name = name(
    "federated_managed_identity",
    "--federated-managed-identity",
    "GRAPHD_FEDERATED_MANAGED_IDENTITY",
);
/// A user-assigned identity, by client (application) id.
pub const MI_CLIENT_ID: Name = name(
    "managed_identity_client_id",
    "--managed-identity-client-id",
    "GRAPHD_MANAGED_IDENTITY_CLIENT_ID",
);
/// A user-assigned identity, by object (principal) id.
pub const MI_OBJECT_ID: Name = name(
    "managed_identity_object_id",
    "--managed-identity-object-id",
    "GRAPHD_MANAGED_IDENTITY_OBJECT_ID",
);
/// A user-assigned identity, by Azure resource id.
pub const MI_RESOURCE_ID: Name = name(
    "managed_identity_resource_id",
    "--managed-identity-resource-id",
    "GRAPHD_MANAGED_IDENTITY_RESOURCE_ID",
);
/// The PKCS#11 module (shared library) that holds a `--key pkcs11:...` key.
pub const PKCS11_MODULE: Name = name("pkcs11_module", "--pkcs11-module", "GRAPHD_PKCS11_MODULE");
/// The token's PIN from standard input (first line).
pub const PIN_STDIN: Name = name("pin_stdin", "--pin-stdin", "GRAPHD_PIN_STDIN");
pub const NO_TOKEN_CACHE: Name = name(
    "no_token_cache",
    "--no-token-cache",
    "GRAPHD_NO_TOKEN_CACHE",
);

// Network.
pub const MAX_RETRIES: Name = name("max_retries", "--max-retries", "GRAPHD_MAX_RETRIES");
pub const TIMEOUT: Name = name("timeout", "--timeout", "GRAPHD_TIMEOUT");
pub const DEADLINE: Name = name("deadline", "--deadline", "GRAPHD_DEADLINE");
pub const MAX_RETRY_WAIT: Name = name(
    "max_retry_wait",
    "--max-retry-wait",
    "GRAPHD_MAX_RETRY_WAIT",
);
pub const MAX_RESPONSE_MIB: Name = name(
    "max_response_mib",
    "--max-response-mib",
    "GRAPHD_MAX_RESPONSE_MIB",
);

/// A client secret's value (azure-identity's name; never a flag: argv is public).
pub const ENV_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
/// The password of an encrypted key or PKCS#12 file (azure-identity's name).
pub const ENV_CERT_PASSWORD: &str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
/// A PKCS#11 token's user PIN (never a flag: argv is public).
pub const ENV_PKCS11_PIN: &str = "GRAPHD_PKCS11_PIN";
/// Turns the token cache off (`off`, `0`, `false`, `no`) or on.
pub const ENV_TOKEN_CACHE: &str = "GRAPHD_TOKEN_CACHE";

// What Azure sets for a process that may use a managed identity (PROTOCOL.md §8); graphd
// reads them to find the identity endpoint, as MSAL and azure-identity do.
/// App Service, Functions, Service Fabric and Azure Arc: the local token endpoint.
pub const ENV_IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
/// App Service and Service Fabric: the secret their endpoint wants back (a secret itself).
pub const ENV_IDENTITY_HEADER: &str = "IDENTITY_HEADER";
/// Service Fabric: the SHA-1 thumbprint of its endpoint's self-signed certificate.
pub const ENV_IDENTITY_SERVER_THUMBPRINT: &str = "IDENTITY_SERVER_THUMBPRINT";
/// Azure Arc: set beside `IDENTITY_ENDPOINT` by the connected-machine agent.
pub const ENV_IMDS_ENDPOINT: &str = "IMDS_ENDPOINT";
/// Cloud Shell (alone), or Azure Machine Learning (with `MSI_SECRET`).
pub const ENV_MSI_ENDPOINT: &str = "MSI_ENDPOINT";
pub const ENV_MSI_SECRET: &str = "MSI_SECRET";
/// Overrides IMDS's host (AKS pod-managed identity), as in azure-identity and MSAL.
pub const ENV_POD_IDENTITY_AUTHORITY_HOST: &str = "AZURE_POD_IDENTITY_AUTHORITY_HOST";

/// Every global setting above, for the consistency test and `config show`.
pub const ALL: &[Name] = &[
    TENANT,
    CLIENT_ID,
    AUTHORITY_HOST,
    GRAPH_ENDPOINT,
    CLOUD,
    CONFIG,
    PROFILE,
    OUTPUT,
    COLOR,
    CA_BUNDLE,
    VERBOSE,
    SECRET_STDIN,
    SECRET_FILE,
    CERT,
    KEY,
    THUMBPRINT,
    CERT_STORE,
    FEDERATED_TOKEN_FILE,
    CERT_PASSWORD_STDIN,
    SEND_X5C,
    ALLOW_INSECURE_KEY_FILE,
    ASSERTION_ALG,
    KEYRING,
    MANAGED_IDENTITY,
    FEDERATED_MANAGED_IDENTITY,
    MI_CLIENT_ID,
    MI_OBJECT_ID,
    MI_RESOURCE_ID,
    PKCS11_MODULE,
    PIN_STDIN,
    NO_TOKEN_CACHE,
    MAX_RETRIES,
    TIMEOUT,
    DEADLINE,
    MAX_RETRY_WAIT,
    MAX_RESPONSE_MIB,
];

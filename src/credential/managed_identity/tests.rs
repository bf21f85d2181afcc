//! Unit tests of managed-identity selection, endpoints and answers.
use super::*;

fn spec(platform: Platform, chosen: Option<Selector>) -> ManagedIdentitySpec {
    ManagedIdentitySpec {
        detection: Detection {
            platform,
            why: "test".into(),
        },
        chosen: chosen.map(|selector| Chosen {
            selector,
            from: "flag --managed-identity-client-id".into(),
        }),
        ca_bundle: None,
        retry: RetryPolicy::default(),
    }
}

const GUID: &str = "6f1c1c2e-0b1a-4a43-9a55-0c2d5b8e7f10";

#[test]
fn selectors_are_checked() {
    assert!(Selector::ClientId(GUID.into()).check().is_ok());
    assert!(Selector::ObjectId(GUID.to_uppercase()).check().is_ok());
    assert!(Selector::ClientId("abc".into()).check().is_err());
    assert!(Selector::ObjectId(format!("{GUID}x")).check().is_err());
    assert!(
        Selector::ResourceId("/subscriptions/s/resourcegroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/n".into())
            .check()
            .is_ok()
    );
    assert!(
        Selector::ResourceId("subscriptions/x".into())
            .check()
            .is_err()
    );
    assert!(Selector::ResourceId("/a b".into()).check().is_err());
}

#[test]
fn endpoints_are_checked_before_anything_is_sent() {
    let load = |p, c| ManagedIdentity::load(&spec(p, c), false).map(|_| ());
    assert!(
        load(
            Platform::Imds {
                authority: IMDS_AUTHORITY.into()
            },
            None
        )
        .is_ok()
    );
    assert!(matches!(
        load(
            Platform::Imds {
                authority: "http://10.0.0.1:2579".into()
            },
            None
        ),
        Err(ManagedIdentityError::NotLocal {
            var: ENV_POD_IDENTITY_AUTHORITY_HOST,
            ..
        })
    ));
    assert!(matches!(
        load(
            Platform::AppService {
                endpoint: "http://example.com/MSI/token".into(),
                header: IdentityHeader::new("h".into())
            },
            None
        ),
        Err(ManagedIdentityError::NotLocal {
            var: ENV_IDENTITY_ENDPOINT,
            ..
        })
    ));
    assert!(matches!(
        load(
            Platform::CloudShell {
                endpoint: "ftp://localhost/x".into()
            },
            None
        ),
        Err(ManagedIdentityError::BadEndpoint { .. })
    ));
    assert!(matches!(
        load(
            Platform::CloudShell {
                endpoint: "http://user:pw@localhost/x".into()
            },
            None
        ),
        Err(ManagedIdentityError::BadEndpoint { .. })
    ));
    // Service Fabric: https (to a node's address) with a thumbprint.
    let sf = |endpoint: &str, thumbprint: &str| Platform::ServiceFabric {
        endpoint: endpoint.into(),
        header: IdentityHeader::new("h".into()),
        thumbprint: thumbprint.into(),
    };
    let tp = "AB".repeat(20);
    assert!(
        load(
            sf("https://10.0.0.4:2377/metadata/identity/oauth2/token", &tp),
            None
        )
        .is_ok()
    );
    assert!(matches!(
        load(sf("http://127.0.0.1:2377/x", &tp), None),
        Err(ManagedIdentityError::BadEndpoint { .. })
    ));
    assert!(matches!(
        load(sf("https://127.0.0.1:2377/x", "nope"), None),
        Err(ManagedIdentityError::BadThumbprint(_))
    ));
    // Selectors only where the platform takes them.
    let sel = || Some(Selector::ClientId(GUID.into()));
    assert!(
        load(
            Platform::Imds {
                authority: IMDS_AUTHORITY.into()
            },
            sel()
        )
        .is_ok()
    );
    for p in [
        Platform::Arc {
            endpoint: ARC_DEFAULT_ENDPOINT.into(),
        },
        Platform::CloudShell {
            endpoint: "http://localhost:50342/oauth2/token".into(),
        },
        sf("https://127.0.0.1:1/x", &tp),
    ] {
        let name = p.name();
        match load(p, sel()) {
            Err(ManagedIdentityError::SelectorNotSupported { platform, .. }) => {
                assert_eq!(platform, name)
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(matches!(
        load(Platform::AzureMl, None),
        Err(ManagedIdentityError::AzureMl)
    ));
    assert!(matches!(
        ManagedIdentity::load(
            &spec(
                Platform::CloudShell {
                    endpoint: "http://localhost:50342/oauth2/token".into()
                },
                None
            ),
            true
        ),
        Err(ManagedIdentityError::CloudShellNotFederated)
    ));
}

#[test]
fn descriptions_never_show_the_header() {
    let s = spec(
        Platform::AppService {
            endpoint: "http://127.0.0.1:41741/MSI/token/".into(),
            header: IdentityHeader::new("canary-header".into()),
        },
        Some(Selector::ObjectId(GUID.into())),
    );
    let mi = ManagedIdentity::load(&s, false).unwrap();
    let shown = format!("{s:?} {mi:?} {}", mi.describe());
    assert!(!shown.contains("canary"), "{shown}");
    assert!(
        shown.contains("App Service") && shown.contains(GUID),
        "{shown}"
    );
}

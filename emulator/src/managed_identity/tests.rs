//! Unit tests of `managed_identity`.
use super::*;

#[test]
fn api_versions_are_dates_compared_as_dates() {
    assert!(version_at_least(Some("2018-02-01"), "2018-02-01"));
    assert!(version_at_least(Some("2021-12-13"), "2018-02-01"));
    assert!(!version_at_least(Some("2017-09-01"), "2018-02-01"));
    assert!(!version_at_least(Some("2019-07-01-preview"), "2018-02-01"));
    assert!(!version_at_least(Some("9999"), "2018-02-01"));
    assert!(!version_at_least(Some("2019/08/01"), "2018-02-01"));
    assert!(!version_at_least(None, "2018-02-01"));
}

#[test]
fn selectors_and_repeated_parameters() {
    let names = [
        ("client_id", SelectorKind::Client),
        ("object_id", SelectorKind::Object),
    ];
    let q = decode_pairs(b"resource=r&client_id=a%2Db").unwrap();
    let sel = selector(&q, &names).unwrap().unwrap();
    assert_eq!(
        (sel.param.as_str(), sel.kind, sel.value.as_str()),
        ("client_id", SelectorKind::Client, "a-b")
    );
    assert!(
        selector(&decode_pairs(b"resource=r").unwrap(), &names)
            .unwrap()
            .is_none()
    );
    let two = decode_pairs(b"client_id=a&object_id=b").unwrap();
    assert_eq!(selector(&two, &names).unwrap_err(), "client_id, object_id");
    assert_eq!(
        decode_pairs(b"resource=a&resource=b").unwrap_err(),
        "resource"
    );
}

#[test]
fn faults_count_their_own_source() {
    let mi = ManagedIdentities::new(
        "https://a",
        "t",
        CloudShellUser {
            object_id: "o".into(),
            upn: "u@x".into(),
            display_name: "U".into(),
        },
        PathBuf::from("/nonexistent"),
    );
    mi.faults.add(
        MiFault::new(MiFaultKind::Gone)
            .on(MiSource::Arc)
            .after(1)
            .times(2),
    );
    mi.faults.add(MiFault::new(MiFaultKind::ServerError));
    // IMDS only sees the source-less fault; Arc's counts Arc requests only.
    assert_eq!(
        mi.faults.next(MiSource::Imds),
        Some(MiFaultKind::ServerError)
    );
    assert_eq!(mi.faults.next(MiSource::Imds), None);
    assert_eq!(mi.faults.next(MiSource::Arc), None, "after(1)");
    assert_eq!(mi.faults.next(MiSource::Arc), Some(MiFaultKind::Gone));
    assert_eq!(mi.faults.next(MiSource::Arc), Some(MiFaultKind::Gone));
    assert_eq!(mi.faults.next(MiSource::Arc), None, "times(2)");
    mi.faults.add(MiFault::always(MiFaultKind::NoAnswer));
    mi.faults.clear();
    assert_eq!(mi.faults.next(MiSource::CloudShell), None);
}

#[test]
fn identities_are_selected_by_any_id() {
    let mi = ManagedIdentities::new(
        "https://a",
        "t",
        CloudShellUser {
            object_id: "o".into(),
            upn: "u@x".into(),
            display_name: "U".into(),
        },
        PathBuf::from("/nonexistent"),
    );
    assert_eq!(mi.select(None).unwrap().which, MiIdentity::System);
    let u2 = mi.identity(MiIdentity::User2);
    let by = |kind, value: &str| {
        mi.select(Some(&Selector {
            param: String::new(),
            kind,
            value: value.to_owned(),
        }))
        .map(|i| i.which)
    };
    assert_eq!(
        by(SelectorKind::Client, &u2.client_id),
        Some(MiIdentity::User2)
    );
    assert_eq!(
        by(SelectorKind::Object, &u2.object_id.to_uppercase()),
        Some(MiIdentity::User2)
    );
    assert_eq!(
        by(SelectorKind::Resource, u2.resource_id.as_deref().unwrap()),
        Some(MiIdentity::User2)
    );
    // The system-assigned identity has no resource id to be selected by.
    let system = mi.identity(MiIdentity::System);
    assert_eq!(by(SelectorKind::Resource, ""), None);
    assert_eq!(
        by(SelectorKind::Client, &system.object_id),
        None,
        "ids are not interchangeable"
    );
    assert!(u2.roles.is_empty());
    assert_eq!(
        mi.trusted_subjects.read().unwrap().as_slice(),
        std::slice::from_ref(&system.object_id)
    );
    assert_eq!(mi.issuer, "https://a/t/v2.0");
}

//! Unit tests of `delta`.
use proptest::prelude::*;

use super::*;

fn binding() -> Binding {
    Binding {
        authority: "https://login.example".into(),
        tenant: "t".into(),
        client_id: "c".into(),
        graph: "https://graph.example".into(),
        api_version: "v1.0".into(),
        resource: "users/delta".into(),
        select: vec!["id".into(), "displayName".into()],
        filter: None,
        options: vec![],
    }
}

fn state() -> State {
    State {
        format: STATE_FORMAT.into(),
        binding: binding(),
        delta_link: "https://graph.example/v1.0/users/delta?$deltatoken=abc".into(),
        saved_at: "2026-01-01T00:00:00Z".into(),
        round: Round::Full,
        items: 3,
        removed: 0,
    }
}

#[test]
fn state_round_trips() {
    let s = state();
    assert_eq!(State::parse(&s.to_json()).unwrap(), s);
}

#[test]
fn bad_files_are_reasons_that_quote_nothing() {
    for (body, want) in [
        (&b""[..], "Eof"),
        (b"<html>secret-looking</html>", "Syntax"),
        (b"{\"format\":\"graphd-delta-state/9\"}", "does not know"),
        (b"{\"format\":\"secret-looking\"}", "no \"format\""),
        (b"[\"secret-looking\"]", "no \"format\""),
        (b"{\"format\":\"graphd-delta-state/1\"}", "Data"),
        (
            b"{\"format\":\"graphd-delta-state/1\",\"binding\":7}",
            "Data",
        ),
    ] {
        let r = State::parse(body).unwrap_err();
        assert!(r.contains(want), "{r}");
        assert!(!r.contains("secret-looking"), "{r}");
    }
}

#[test]
fn differences_are_named() {
    let a = binding();
    assert_eq!(a.difference(&a), None);
    let mut b = a.clone();
    b.select.reverse();
    assert_eq!(
        a.difference(&b),
        None,
        "the same selection in another order"
    );
    b.tenant = "other".into();
    assert_eq!(
        a.difference(&b),
        Some(("tenant", "t".to_string(), "other".to_string()))
    );
    let mut c = a.clone();
    c.select = vec![];
    assert_eq!(a.difference(&c).unwrap().0, "--select");
    assert_eq!(a.difference(&c).unwrap().2, "(none)");
    let mut d = a.clone();
    d.filter = Some("id eq 'x'".into());
    assert_eq!(a.difference(&d).unwrap().0, "--filter");
    let mut e = a.clone();
    e.graph = "https://graph.example:8443".into();
    assert_eq!(a.difference(&e).unwrap().0, "Graph endpoint");
    let mut hostile = a.clone();
    hostile.tenant = format!("\x1b[2J\u{202e}evil\n{}", "x".repeat(500));
    let (_, saved, _) = hostile.difference(&a).unwrap();
    assert!(
        saved.starts_with("\\u{1b}[2J\\u{202e}evil\\u{a}x"),
        "{saved}"
    );
    assert!(
        saved.chars().count() < 300 && saved.ends_with('…'),
        "{saved}"
    );
}

#[test]
fn links_only_to_the_graph_origin() {
    let g = Url::parse("https://graph.example").unwrap();
    assert!(check_link(&g, "https://graph.example/v1.0/users/delta?$deltatoken=x").is_ok());
    for bad in [
        "https://evil.example/v1.0/users/delta",
        "https://graph.example:444/x",
        "https://u:p@graph.example/x",
        "https://graph.example.evil/x",
    ] {
        assert!(
            matches!(check_link(&g, bad), Err(LinkProblem::Foreign { .. })),
            "{bad}"
        );
    }
    for bad in [
        "http://graph.example/x",
        "/v1.0/users",
        "",
        "https://graph.example/x#f",
    ] {
        assert_eq!(check_link(&g, bad), Err(LinkProblem::NotHttps), "{bad}");
    }
}

#[test]
fn state_gone_is_410_or_the_codes() {
    let refused = |status, code: &str| GraphError::Refused {
        status,
        code: code.into(),
        message: None,
        ids: Box::default(),
        consent_url: String::new(),
    };
    assert!(state_gone(&refused(410, "Gone")).is_some());
    assert!(state_gone(&refused(400, "syncStateInvalid")).is_some());
    assert!(state_gone(&refused(400, "SyncStateNotFound")).is_some());
    assert!(state_gone(&refused(400, "resyncRequired")).is_some());
    assert!(state_gone(&refused(400, "Request_BadRequest")).is_none());
    assert!(state_gone(&refused(403, "Authorization_RequestDenied")).is_none());
    assert!(state_gone(&GraphError::RepeatedNextLink).is_none());
}

#[test]
fn load_and_save() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.json");
    assert_eq!(load(&p).unwrap(), None);
    assert!(matches!(
        load(&dir.path().join("missing/s.json")),
        Err(DeltaError::NoStateDir(_))
    ));
    assert_eq!(load(Path::new("no-such-state-here.json")).unwrap(), None);
    save(&p, &state()).unwrap();
    assert_eq!(load(&p).unwrap(), Some(state()));
    #[cfg(unix)]
    assert_eq!(files::mode(&std::fs::metadata(&p).unwrap()), Some(0o600));
    std::fs::write(&p, vec![b' '; MAX_STATE_BYTES as usize + 1]).unwrap();
    assert!(matches!(load(&p), Err(DeltaError::Corrupt { .. })));
    assert!(matches!(load(dir.path()), Err(DeltaError::Corrupt { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes: an error or a state, never a panic; and a parsed state's link either
    /// passes the origin check or is refused, never panics either.
    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(s) = State::parse(&bytes) {
            let g = Url::parse("https://graph.example").unwrap();
            let _ = check_link(&g, &s.delta_link);
            let _ = s.binding.difference(&binding());
        }
    }

    /// A valid state with any strings in it: parses back to itself, and the link check
    /// accepts only the Graph origin.
    #[test]
    fn any_state_round_trips(
        link in ".{0,80}",
        tenant in ".{0,20}",
        select in proptest::collection::vec("[a-zA-Z]{0,8}", 0..4),
        filter in proptest::option::of(".{0,30}"),
    ) {
        let mut s = state();
        s.delta_link = link;
        s.binding.tenant = tenant;
        s.binding.select = select;
        s.binding.filter = filter;
        let back = State::parse(&s.to_json()).unwrap();
        prop_assert_eq!(&back, &s);
        let g = Url::parse("https://graph.example").unwrap();
        if let Ok(u) = check_link(&g, &back.delta_link) {
            prop_assert_eq!(origin(&u), "https://graph.example");
        }
    }

    /// Mutating a valid file byte by byte never panics.
    #[test]
    fn mutated_files_never_panic(i in 0usize..400, b in any::<u8>()) {
        let mut bytes = state().to_json();
        let n = bytes.len();
        bytes[i % n] = b;
        let _ = State::parse(&bytes);
    }
}

#[test]
fn a_delta_link_must_continue_the_bound_function() {
    let b = binding();
    let ok = |l: &str| b.admits(&Url::parse(l).unwrap());
    assert!(ok("https://graph.example/v1.0/users/delta?$deltatoken=abc").is_ok());
    assert!(ok("https://graph.example/v1.0/users/delta()?$deltatoken=abc").is_ok());
    assert!(ok("https://graph.example/v1.0/Users/microsoft.graph.delta?$deltatoken=a").is_ok());
    assert_eq!(
        ok("https://graph.example/v1.0/groups/delta?$deltatoken=abc"),
        Err(("/v1.0/groups/delta".into(), "/v1.0/users/delta".into()))
    );
    assert!(ok("https://graph.example/beta/users/delta?$deltatoken=abc").is_err());
    assert!(ok("https://graph.example/v1.0/users?$deltatoken=abc").is_err());
}

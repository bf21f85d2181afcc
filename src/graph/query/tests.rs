//! Unit tests of `query`.
use super::*;

fn q(f: Option<&str>, s: Option<&str>, c: bool, o: Option<&str>) -> UsersQuery {
    users_query(f, s, c, o).unwrap()
}

#[test]
fn plain_queries_stay_plain() {
    let r = q(Some("startswith(displayName,'A')"), None, false, None);
    assert!(!r.eventual);
    assert_eq!(
        r.options,
        [("$filter", "startswith(displayName,'A')".to_string())]
    );
    let r = q(None, None, false, Some("displayName desc"));
    assert!(!r.eventual);
    assert!(
        !q(Some("mail eq 'not ne endswith'"), None, false, None).eventual,
        "words inside literals"
    );
}

#[test]
fn advanced_queries_get_the_header_and_count() {
    let r = q(None, Some("displayName:ada"), false, None);
    assert!(r.eventual);
    assert_eq!(
        r.options,
        [("$search", "\"displayName:ada\"".to_string())],
        "no $count for $search alone"
    );
    for r in [
        q(Some("endswith(mail,'@x.com')"), None, false, None),
        q(Some("displayName ne 'x'"), None, false, None),
        q(Some("NOT startswith(displayName,'x')"), None, false, None),
        q(
            Some("startswith(displayName,'A')"),
            None,
            false,
            Some("displayName"),
        ),
        q(None, None, false, Some("mail")),
        q(None, None, true, None),
    ] {
        assert!(r.eventual, "{r:?}");
        assert!(r.options.contains(&("$count", "true".into())), "{r:?}");
    }
}

#[test]
fn bad_expressions_are_refused_locally() {
    for s in ["ada", "\"ada\"", "\"a:b\" XOR \"c:d\"", "\"a:b", ":x"] {
        assert!(
            matches!(
                users_query(None, Some(s), false, None),
                Err(QueryError::BadSearch(_))
            ),
            "{s}"
        );
    }
    assert_eq!(
        search_expr("\"displayName:a\" OR \"mail:b\"").unwrap(),
        "\"displayName:a\" OR \"mail:b\""
    );
    for o in ["", "displayName sideways", "a b c", "x;y"] {
        assert!(
            matches!(
                users_query(None, None, false, Some(o)),
                Err(QueryError::BadOrderBy(_))
            ),
            "{o}"
        );
    }
    assert!(matches!(
        users_query(Some(" "), None, false, None),
        Err(QueryError::EmptyFilter)
    ));
}

#[test]
fn user_keys_are_one_segment() {
    let g = Url::parse("https://graph.microsoft.com").unwrap();
    assert_eq!(
        user_url(&g, "alex_fabrikam.com#EXT#@contoso.onmicrosoft.com", &[]).as_str(),
        "https://graph.microsoft.com/v1.0/users/alex_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"
    );
    assert_eq!(
        user_url(&g, "o'brien@contoso.com", &["id".into(), "mail".into()]).as_str(),
        "https://graph.microsoft.com/v1.0/users/o%27brien@contoso.com?%24select=id%2Cmail"
    );
    assert_eq!(user_url(&g, "../x", &[]).path(), "/v1.0/users/..%2Fx");
}

#[test]
fn get_targets() {
    let g = Url::parse("https://graph.example:8443").unwrap();
    let u = |t: &str, v: ApiVersion, given: bool| get_url(&g, t, v, given);
    assert_eq!(
        u("/organization", ApiVersion::V1, false).unwrap().as_str(),
        "https://graph.example:8443/v1.0/organization"
    );
    assert_eq!(
        u("users?$top=5", ApiVersion::Beta, true).unwrap().as_str(),
        "https://graph.example:8443/beta/users?$top=5"
    );
    assert_eq!(
        u("/beta/users", ApiVersion::V1, false).unwrap().path(),
        "/beta/users"
    );
    assert!(matches!(
        u("/beta/users", ApiVersion::V1, true),
        Err(QueryError::VersionConflict { .. })
    ));
    assert_eq!(
        u(
            "https://graph.example:8443/v1.0/users?$skiptoken=x",
            ApiVersion::V1,
            false
        )
        .unwrap()
        .as_str(),
        "https://graph.example:8443/v1.0/users?$skiptoken=x"
    );
    for bad in [
        "https://evil.example/v1.0/users",
        "https://graph.example/v1.0/users",
        "https://u@graph.example:8443/x",
    ] {
        assert!(
            matches!(
                u(bad, ApiVersion::V1, false),
                Err(QueryError::ForeignUrl { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        u(
            "http://graph.example:8443/v1.0/users",
            ApiVersion::V1,
            false
        ),
        Err(QueryError::NotHttps(_))
    ));
    assert!(matches!(
        u("/users/a#EXT#@x", ApiVersion::V1, false),
        Err(QueryError::Fragment(_))
    ));
    // A relative path cannot climb out to another origin.
    assert_eq!(
        u("//evil.example/x", ApiVersion::V1, false)
            .unwrap()
            .origin()
            .ascii_serialization(),
        "https://graph.example:8443"
    );
}

#[test]
fn advanced_checks_for_get() {
    let url = |s: &str| Url::parse(&format!("https://g.example/v1.0/{s}")).unwrap();
    let ev = vec![("ConsistencyLevel".to_string(), "eventual".to_string())];
    assert!(check_advanced(&url("users?$search=\"displayName:a\""), &[]).is_err());
    assert!(check_advanced(&url("users?$search=\"displayName:a\""), &ev).is_ok());
    assert!(
        check_advanced(&url("users?$filter=endswith(mail,'x')"), &ev).is_err(),
        "needs $count"
    );
    assert!(check_advanced(&url("users?$filter=endswith(mail,'x')&$count=true"), &ev).is_ok());
    assert!(check_advanced(&url("groups?$count=true"), &[]).is_err());
    assert!(
        check_advanced(&url("me/messages?$search=\"x\""), &[]).is_ok(),
        "not a directory object"
    );
}

#[test]
fn delta_filters_by_id_only() {
    for ok in [
        "id eq '1'",
        "id eq 'a' or id eq 'b'",
        "id in ('a', 'b')",
        " ID EQ 'x' ",
    ] {
        assert!(delta_filter(ok).is_ok(), "{ok}");
    }
    for bad in [
        "startswith(displayName,'A')",
        "displayName eq 'x'",
        "id ne 'x'",
        "id eq 'x",
        "id eq 1",
        "id eq 'a' and id eq 'b'",
        "id eq 'a'; drop",
    ] {
        assert!(
            matches!(delta_filter(bad), Err(QueryError::DeltaFilter(_))),
            "{bad}"
        );
    }
    assert!(matches!(delta_filter(" "), Err(QueryError::EmptyFilter)));
}

#[test]
fn headers() {
    assert_eq!(
        header("ConsistencyLevel: eventual").unwrap(),
        ("ConsistencyLevel".into(), "eventual".into())
    );
    assert!(matches!(
        header("Authorization:Bearer x"),
        Err(QueryError::ReservedHeader(_))
    ));
    assert!(matches!(header("novalue"), Err(QueryError::BadHeader(_))));
}

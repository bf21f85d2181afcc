//! The delta STATE file (`--delta STATE`, graph::delta): whatever the file holds, parsing never
//! panics, a reason for a bad file quotes nothing of it, comparing its binding never panics, and
//! a deltaLink the origin check lets through is https on the Graph origin with no user info.
#![no_main]

use graphd::graph::delta::{Binding, State, check_link};
use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let graph = Url::parse("https://graph.example:8443").unwrap();
    match State::parse(data) {
        Ok(state) => {
            let current = Binding {
                authority: "https://login.example".into(),
                tenant: "t".into(),
                client_id: "c".into(),
                graph: "https://graph.example:8443".into(),
                api_version: "v1.0".into(),
                resource: "users/delta".into(),
                select: vec!["id".into()],
                filter: None,
                options: vec![],
            };
            let _ = state.binding.difference(&current);
            if let Ok(url) = check_link(&graph, &state.delta_link) {
                assert_eq!(url.scheme(), "https");
                assert_eq!(url.origin(), graph.origin(), "{}", state.delta_link);
                assert!(url.username().is_empty() && url.password().is_none());
            }
            // What graphd writes back parses to the same state.
            assert_eq!(State::parse(&state.to_json()).unwrap(), state);
        }
        Err(reason) => {
            assert!(reason.len() < 120, "{reason}");
            assert!(
                !reason.contains('"') || reason.contains("\"format\""),
                "{reason}"
            );
        }
    }
});

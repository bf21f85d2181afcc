//! The next-link guard: a link it lets through is https on the Graph origin with no user
//! info, and the same link is never let through twice.
#![no_main]

use graphd::graph::NextLinkGuard;
use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let endpoint = Url::parse("https://graph.example:8443").unwrap();
    let first = Url::parse("https://graph.example:8443/v1.0/users?$top=5").unwrap();
    let mut guard = NextLinkGuard::new(&endpoint, &first);
    for link in text.split('\n') {
        if let Ok(url) = guard.check(link) {
            assert_eq!(url.scheme(), "https");
            assert_eq!(url.origin(), endpoint.origin(), "{link}");
            assert!(url.username().is_empty() && url.password().is_none());
            assert!(guard.check(link).is_err(), "followed twice: {link}");
        }
    }
});

//! The token-endpoint 200 parser: never panics, and an error never quotes the access token.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    match graphd::token::parse_token_response(data, now) {
        Ok(token) => {
            assert!(!token.access_token.expose().is_empty());
            assert!(token.expires_on >= now);
            assert_eq!(format!("{token:?}").matches("[redacted]").count(), 1);
        }
        Err(e) => {
            let shown = format!("{e} {e:?}");
            let token = serde_json::from_slice::<serde_json::Value>(data)
                .ok()
                .and_then(|v| v.get("access_token")?.as_str().map(str::to_owned));
            if let Some(t) = token.filter(|t| t.len() >= 6) {
                assert!(!shown.contains(&t), "the error quotes the token: {shown}");
            }
        }
    }
});

//! The Graph collection-page parser: never panics, and a page it accepts holds only objects.
#![no_main]

use graphd::graph::{Page, parse_page};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_page(data) {
        Ok(Page::More { items, .. } | Page::Done { items } | Page::Delta { items, .. }) => {
            assert!(items.iter().all(|v| v.is_object()));
        }
        Err(reason) => assert!(reason.len() < 200, "{reason}"),
    }
});

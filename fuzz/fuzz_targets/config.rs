//! Flags + environment → `Config`: never panics, and `Config`'s `Debug` does not depend on
//! the client secret taken from the environment. Input: NUL-separated arguments, then after a
//! 0x01 byte, `NAME=value` environment lines.
#![no_main]

use clap::Parser;
use graphd::cli::Cli;
use graphd::config::{Config, MapEnv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (args, env) = text.split_once('\u{1}').unwrap_or((text, ""));
    let argv = std::iter::once("graphd").chain(args.split('\0').filter(|a| !a.is_empty()));
    let env = MapEnv(
        env.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    let Ok(cli) = Cli::try_parse_from(argv) else {
        return;
    };
    if let Ok(config) = Config::from_args(&cli.global, &env) {
        // `Debug` must not depend on the secret's value: the same run with another secret
        // prints the same.
        // (An empty one counts as unset, so it is left out.)
        if let Some(secret) = env.0.get("AZURE_CLIENT_SECRET").filter(|s| !s.is_empty()) {
            let mut other = env.0.clone();
            other.insert("AZURE_CLIENT_SECRET".into(), format!("x{secret}x"));
            let again = Config::from_args(&cli.global, &MapEnv(other)).expect("same flags");
            assert_eq!(format!("{config:?}"), format!("{again:?}"));
        }
        let _ = config.token_request(None).token_url();
        let _ = config.users_url();
        let _ = config.admin_consent_url();
    }
});

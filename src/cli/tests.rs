//! Unit tests of the clap definitions: consistency, env vars, names, no secret flags.
use super::*;
use clap::CommandFactory;

use crate::names;

#[test]
fn every_flag_names_its_env_var() {
    // Each flag either has a clap `env` or says in its help which variable stands for it
    // (credential variables are read apart, so that two credentials can be told apart).
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.is_positional() || ["help", "version"].contains(&id) {
                continue;
            }
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default()
                + &arg
                    .get_long_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
            if arg.get_env().is_none() && !help.contains("env:") {
                missing.push(format!("{path} --{id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&Cli::command(), "graphd", &mut missing);
    assert!(missing.is_empty(), "flags without an env var: {missing:?}");
}

#[test]
fn clap_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn global_flags_go_before_or_after_the_subcommand() {
    let a = Cli::try_parse_from(["graphd", "--tenant", "t", "users"]).unwrap();
    let b = Cli::try_parse_from(["graphd", "users", "--tenant", "t"]).unwrap();
    assert_eq!(a.global.tenant.as_deref(), Some("t"));
    assert_eq!(b.global.tenant.as_deref(), Some("t"));
}

#[test]
fn top_out_of_range_is_a_usage_error() {
    for bad in ["0", "1000", "-1"] {
        let err = Cli::try_parse_from(["graphd", "users", "--top", bad]).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{bad}");
    }
}

#[test]
fn there_is_no_flag_that_takes_a_secret_value() {
    // Every flag of every subcommand: argv is visible to every local user.
    const SECRET_WORDS: [&str; 6] = ["secret", "password", "token", "pin", "assertion", "private"];
    // Flags whose value names where a secret is, never the secret itself.
    const SOURCES: [&str; 3] = ["secret_file", "federated_token_file", "assertion_alg"];
    fn walk(cmd: &clap::Command, path: &str, bad: &mut Vec<String>, seen: &mut usize) {
        *seen += 1;
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            let secretish = SECRET_WORDS.iter().any(|w| id.contains(w));
            if secretish && arg.get_action().takes_values() && !SOURCES.contains(&id) {
                bad.push(format!("{path} --{id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), bad, seen);
        }
    }
    let (mut bad, mut seen) = (Vec::new(), 0);
    walk(&Cli::command(), "graphd", &mut bad, &mut seen);
    assert!(
        bad.is_empty(),
        "flags that would take a secret in argv: {bad:?}"
    );
    assert!(seen >= 18, "walked every subcommand ({seen} commands)");
}

#[test]
fn names_match_the_clap_definition() {
    let cmd = Cli::command();
    for n in names::ALL {
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_id().as_str() == n.id)
            .unwrap_or_else(|| panic!("no global argument {}", n.id));
        assert_eq!(format!("--{}", arg.get_long().unwrap()), n.flag, "{}", n.id);
        match arg.get_env() {
            Some(env) => assert_eq!(env.to_str(), Some(n.env), "{}", n.id),
            // Read apart by config (credentials): the help names the variable.
            None => {
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                assert!(help.contains(n.env), "{}'s help names {}", n.id, n.env);
            }
        }
    }
}

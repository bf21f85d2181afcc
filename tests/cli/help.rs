//! Snapshots of `--help` for every command and of the main usage errors, so that a change to
//! what users read is seen in review (`GRAPHD_UPDATE_SNAPSHOTS=1` rewrites them after a
//! deliberate change). Run with a cleared environment and a fixed width.

use super::util::*;

/// Every command path, the root included.
const COMMANDS: &[&[&str]] = &[
    &[],
    &["users"],
    &["user"],
    &["get"],
    &["token"],
    &["consent-url"],
    &["config"],
    &["config", "show"],
    &["secret"],
    &["secret", "set"],
    &["secret", "status"],
    &["secret", "delete"],
    &["cache"],
    &["cache", "clear"],
    &["cert"],
    &["cert", "new"],
    &["cert", "show"],
    &["cert", "list"],
    &["cert", "add"],
    &["cert", "remove"],
    &["cert", "rotate"],
    &["completions"],
    &["man"],
];

/// `graphd` with nothing from the environment but an empty HOME and an 100-column width.
fn clean(s: &Setup) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_graphd"));
    cmd.env_clear()
        .env("HOME", s.path("help-home"))
        .env("COLUMNS", "100");
    cmd
}

fn name(path: &[&str]) -> String {
    if path.is_empty() {
        "graphd".into()
    } else {
        format!("graphd-{}", path.join("-"))
    }
}

#[test]
fn help_of_every_command() {
    let s = shared();
    let cli_commands = {
        let out = clean(s).arg("--help").output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    // Every top-level command of `graphd --help` is in the list (a new command needs a snapshot).
    for line in cli_commands
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
    {
        let cmd = line.split_whitespace().next().unwrap();
        if cmd != "help" {
            assert!(
                COMMANDS.iter().any(|c| c.first() == Some(&cmd)),
                "no help snapshot for `graphd {cmd}`"
            );
        }
    }
    for path in COMMANDS {
        let out = clean(s).args(*path).arg("--help").output().unwrap();
        assert!(out.status.success(), "{path:?}: {}", stderr_of(&out));
        let help = String::from_utf8(out.stdout).unwrap();
        // Every subcommand at every level has a snapshot too (`cert new`, `secret set`, ...).
        for line in help
            .lines()
            .skip_while(|l| !l.starts_with("Commands:"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            // A name at two spaces; a wrapped description goes on further in.
            .filter(|l| !l[2..].starts_with(' '))
        {
            let child = line.split_whitespace().next().unwrap();
            let mut full = path.to_vec();
            full.push(child);
            assert!(
                child == "help" || COMMANDS.contains(&full.as_slice()),
                "no help snapshot for `graphd {}`",
                full.join(" ")
            );
        }
        snapshot(&format!("help/{}.txt", name(path)), &help);
    }
}

/// The usage errors people meet most: stderr and exit code, as printed.
#[test]
fn main_usage_errors() {
    let s = shared();
    for (file, args) in [
        ("unknown-command", &["frobnicate"][..]),
        ("unknown-flag", &["users", "--secret", "x"]),
        ("top-out-of-range", &["users", "--top", "0"]),
        ("bad-cloud", &["--cloud", "mars", "users"]),
        ("no-tenant", &["users", "--secret-stdin"]),
        (
            "two-credentials",
            &[
                "users",
                "--tenant",
                "contoso.onmicrosoft.com",
                "--client-id",
                "c",
                "--secret-stdin",
                "--cert",
                "c.pem",
            ],
        ),
        (
            "multi-tenant-alias",
            &[
                "users",
                "--tenant",
                "common",
                "--client-id",
                "c",
                "--secret-stdin",
            ],
        ),
        (
            "http-graph-endpoint",
            &[
                "users",
                "--tenant",
                "t.example",
                "--client-id",
                "c",
                "--secret-stdin",
                "--graph-endpoint",
                "http://graph.example",
            ],
        ),
        (
            "get-no-path",
            &[
                "get",
                "--tenant",
                "t.example",
                "--client-id",
                "c",
                "--secret-stdin",
            ],
        ),
        ("cert-new-missing-outputs", &["cert", "new"]),
    ] {
        let out = clean(s).args(args).output().unwrap();
        let text = format!(
            "exit code: {}\n{}",
            out.status.code().unwrap_or(-1),
            stderr_of(&out)
        );
        snapshot(&format!("usage/{file}.txt"), &text);
    }
}

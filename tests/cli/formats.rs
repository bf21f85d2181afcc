//! `-o table` at several widths (snapshots in tests/cli/snapshots/), CSV through Python's csv
//! module with the emulator's hard-case users, TSV, colour switches, completions for every
//! shell and the man page, and `--help` for every command.

use std::io::Write;
use std::process::{Command, Stdio};

use super::util::*;

fn table(columns: &str, extra: &[&str]) -> String {
    let s = shared();
    let out = s
        .graphd_secret()
        .env("COLUMNS", columns)
        .args(["users", "-o", "table", "--max-items", "16"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn table_snapshots_at_several_widths() {
    for width in ["40", "80", "120", "200"] {
        let t = table(width, &[]);
        let w: usize = width.parse().unwrap();
        for line in t.lines() {
            let cols = unicode_width::UnicodeWidthStr::width(line);
            assert!(cols <= w, "{cols} > {w}: {line}");
        }
        snapshot(&format!("users-table-{width}.txt"), &t);
    }
    let t = table("60", &["--select", "displayName,businessPhones,givenName"]);
    snapshot("users-table-select-60.txt", &t);
    assert!(
        t.contains(r#"["+1 425 555 0100","+1 425 555 0101"]"#)
            || t.contains(r#"["+1 425 555 0100","#),
        "{t}"
    );
    assert!(
        t.contains("Line\\nBreak"),
        "newlines are shown escaped: {t}"
    );
    assert!(!t.contains('\x1b'), "no colour when piped");
}

#[test]
fn table_colour_follows_color_and_no_color() {
    let s = shared();
    let run = |args: &[&str], no_color: bool| {
        let mut c = s.graphd_secret();
        c.args(["users", "-o", "table", "--max-items", "2"])
            .args(args);
        if no_color {
            c.env("NO_COLOR", "1");
        }
        String::from_utf8(c.output().unwrap().stdout).unwrap()
    };
    assert!(run(&["--color", "always"], false).starts_with("\x1b[1m"));
    assert!(
        run(&["--color", "always"], true).starts_with("\x1b[1m"),
        "an explicit always wins"
    );
    assert!(!run(&["--color", "auto"], false).contains('\x1b'), "piped");
    assert!(!run(&["--color", "never"], false).contains('\x1b'));
    // Errors are coloured only when asked.
    let out = s
        .graphd()
        .args(["users", "--color", "always", "--tenant", "common"])
        .output()
        .unwrap();
    assert!(
        stderr_of(&out).starts_with("\x1b[1;31merror:"),
        "{}",
        stderr_of(&out)
    );
    let out = s
        .graphd()
        .args(["users", "--tenant", "common"])
        .output()
        .unwrap();
    assert!(stderr_of(&out).starts_with("error:"));
}

#[test]
fn csv_round_trips_through_python_with_formulas_neutralised() {
    let s = shared();
    let out = s
        .graphd_secret()
        .args(["users", "-o", "csv", "--max-items", "20"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        out.stdout.windows(2).any(|w| w == b"\r\n"),
        "RFC 4180 line ends"
    );
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import csv, json, sys\nrows = list(csv.DictReader(sys.stdin))\njson.dump(rows, sys.stdout)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/test.sh installs it)");
    py.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let parsed = py.wait_with_output().unwrap();
    assert!(parsed.status.success());
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&parsed.stdout).unwrap();
    let users = &s.emu.users()[..20];
    assert_eq!(rows.len(), 20);
    for (row, user) in rows.iter().zip(users) {
        let user = user.as_object().unwrap();
        assert_eq!(
            row.keys().collect::<Vec<_>>(),
            user.keys().collect::<Vec<_>>(),
            "Graph's order"
        );
        for (k, v) in user {
            let want = match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) if s.starts_with(['=', '+', '-', '@']) => {
                    format!("'{s}")
                }
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(row[k].as_str().unwrap(), want, "{k}");
        }
    }
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["displayName"].as_str().unwrap())
        .collect();
    for expected in [
        "Smith, John",
        "Dwayne \"The Rock\" Johnson",
        "Line\nBreak",
        "山田 太郎",
        "Ferris 🦀 Crab",
        "'=HYPERLINK(\"x\")",
        "'+Plus Start",
        "'-Minus Start",
        "'@At Start",
    ] {
        assert!(names.contains(&expected), "{expected:?} in {names:?}");
    }
}

#[test]
fn tsv_is_one_line_per_user_without_header() {
    let s = shared();
    let out = s
        .graphd_secret()
        .args([
            "users",
            "-o",
            "tsv",
            "--max-items",
            "14",
            "--select",
            "id,displayName,businessPhones",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 14);
    assert!(lines.iter().all(|l| l.split('\t').count() == 3));
    assert_eq!(
        lines[5],
        "00000000-0000-4000-8000-000000000005\tLine\\nBreak\t[]"
    );
    assert_eq!(
        lines[6],
        "00000000-0000-4000-8000-000000000006\t=HYPERLINK(\"x\")\t[]"
    );
    assert_eq!(
        lines[13],
        "00000000-0000-4000-8000-00000000000d\tTwo Phones\t[\"+1 425 555 0100\",\"+1 425 555 0101\"]"
    );
}

#[test]
fn completions_for_every_shell_and_a_man_page() {
    let s = shared();
    for (shell, marker) in [
        ("bash", "complete -F _graphd"),
        ("zsh", "#compdef graphd"),
        ("fish", "complete -c graphd"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = s.graphd().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", stderr_of(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(marker), "{shell}");
        for sub in ["users", "consent-url", "api-version"] {
            assert!(text.contains(sub), "{shell} completes {sub}");
        }
    }
    let out = s.graphd().arg("man").output().unwrap();
    assert!(out.status.success());
    let man = String::from_utf8(out.stdout).unwrap();
    assert!(
        man.starts_with(".ie \\n(.g .ds Aq") || man.contains(".TH graphd"),
        "{}",
        &man[..200.min(man.len())]
    );
    assert!(man.contains("consent\\-url"));
}

#[test]
fn every_command_has_a_summary_env_vars_and_examples() {
    let s = shared();
    for cmd in [
        vec!["users"],
        vec!["user"],
        vec!["get"],
        vec!["token"],
        vec!["consent-url"],
        vec!["config"],
        vec!["config", "show"],
        vec!["secret"],
        vec!["cache"],
        vec!["completions"],
        vec!["man"],
    ] {
        let out = s.graphd().args(&cmd).arg("--help").output().unwrap();
        assert!(out.status.success(), "{cmd:?}");
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            !help.lines().next().unwrap().is_empty(),
            "{cmd:?}: a one-line summary"
        );
        // Examples on every command (subcommand groups carry them for their children).
        if cmd.len() == 1 {
            let n = help
                .lines()
                .filter(|l| {
                    l.starts_with("  graphd ")
                        || l.starts_with("  AZURE_")
                        || l.starts_with("  printf")
                        || l.starts_with("  curl")
                        || l.starts_with("  GRAPHD_")
                })
                .count();
            assert!((2..=4).contains(&n), "{cmd:?}: {n} examples\n{help}");
        }
        for env in [
            "[env: AZURE_TENANT_ID=",
            "[env: GRAPHD_PROFILE=",
            "[env: GRAPHD_OUTPUT=",
            "[env: GRAPHD_COLOR=",
        ] {
            assert!(help.contains(env), "{cmd:?} shows {env}");
        }
    }
}

/// Runs `graphd ARGS >/dev/null` under `script`, so stderr is a terminal; returns what the
/// terminal showed.
fn on_a_terminal(s: &Setup, args: &str, extra_env: &[(&str, &str)]) -> String {
    let inner = s.std_graphd();
    let mut cmd = Command::new("script");
    cmd.env_clear();
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.env("AZURE_CLIENT_SECRET", &s.emu.info().client_secret)
        .env("SHELL", "/bin/sh")
        .env("TERM", "xterm");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd
        .args([
            "-qec",
            &format!("{} {args} >/dev/null", env!("CARGO_BIN_EXE_graphd")),
            "/dev/null",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn progress_line_only_on_a_terminal_and_colour_only_without_no_color() {
    let s = start(400);
    let tty = on_a_terminal(&s, "users --top 100 --no-token-cache", &[]);
    // Draws are rate-limited, so not every page's line need show: any one proves it.
    assert!(
        tty.contains(" page") && tty.contains(" users · "),
        "{tty:?}"
    );
    assert!(tty.contains("\x1b[36m"), "coloured on a terminal: {tty:?}");
    assert!(tty.contains("\x1b[2K"), "and cleared at the end: {tty:?}");
    let tty = on_a_terminal(&s, "users --top 100 --no-token-cache", &[("NO_COLOR", "1")]);
    assert!(
        tty.contains(" users · ") && !tty.contains("\x1b[36m"),
        "{tty:?}"
    );
    let tty = on_a_terminal(&s, "users --top 100 --no-token-cache -v", &[]);
    assert!(
        !tty.contains(" users · "),
        "no progress line under -v logs: {tty:?}"
    );
    // Piped stderr: nothing at all.
    let out = s
        .graphd_secret()
        .args(["users", "--top", "100"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        stderr_of(&out)
    );
}

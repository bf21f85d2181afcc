//! The examples of the documentation, run: every fenced block whose info string is `sh run`
//! in README.md and docs/*.md runs with `bash -euo pipefail` against a fresh emulator, in a
//! fresh directory that is also its HOME, with the real `graphd` first on PATH and the
//! emulator's tenant, client id, endpoints and CA in the environment (no credential).
//!
//! A block asks for a credential on its first line, `# needs: ITEM ...`: `AZURE_CLIENT_SECRET`
//! (the app's secret, exported), `cert.pem` and `key.pem` (the registered certificate and its
//! key, mode 0600, in the block's directory). It must exit 0 in time, print no secret and no
//! JWT, and, when its stdout starts with `{` or `[`, print nothing but JSON. The convention is
//! documented at the top of docs/testing.md.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::util::{start, write_private};

/// How long one block may take (emulator start excluded).
const BLOCK_TIMEOUT: Duration = Duration::from_secs(120);

/// What a `# needs:` line may ask for.
const KNOWN_NEEDS: [&str; 3] = ["AZURE_CLIENT_SECRET", "cert.pem", "key.pem"];

/// One runnable example.
#[derive(Debug)]
struct Block {
    /// `docs/ci.md:42`: where its fence opens.
    place: String,
    script: String,
}

impl Block {
    /// The items of its `# needs:` line (up to the first word starting with `(`).
    fn needs(&self) -> Vec<String> {
        let first = self.script.lines().next().unwrap_or("").trim();
        let Some(rest) = first.strip_prefix("# needs:") else {
            return Vec::new();
        };
        rest.split_whitespace()
            .take_while(|w| !w.starts_with('('))
            .map(str::to_string)
            .collect()
    }
}

/// The `sh run` blocks of one Markdown text. Fences are CommonMark's backtick fences: three or
/// more backticks, closed by at least as many.
fn runnable_blocks(text: &str, file: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    // (backticks of the open fence, whether it is runnable, its line, its lines so far)
    let mut open: Option<(usize, bool, usize, Vec<&str>)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let ticks = trimmed.chars().take_while(|&c| c == '`').count();
        match &mut open {
            None if ticks >= 3 && !trimmed[ticks..].contains('`') => {
                let info: Vec<&str> = trimmed[ticks..].split_whitespace().collect();
                let runnable = info.first() == Some(&"sh") && info.contains(&"run");
                open = Some((ticks, runnable, i + 1, Vec::new()));
            }
            None => {}
            Some((n, runnable, start, lines)) => {
                if ticks >= *n && trimmed[ticks..].trim().is_empty() {
                    if *runnable {
                        blocks.push(Block {
                            place: format!("{file}:{start}"),
                            script: lines.join("\n") + "\n",
                        });
                    }
                    open = None;
                } else {
                    lines.push(line);
                }
            }
        }
    }
    assert!(open.is_none(), "{file}: a fence is never closed");
    blocks
}

/// README.md and docs/*.md, relative to the repository root.
fn doc_files() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![("README.md".to_string(), root.join("README.md"))];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for p in docs {
        let name = format!("docs/{}", p.file_name().unwrap().to_string_lossy());
        files.push((name, p));
    }
    files
}

/// What one run printed.
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    timed_out: bool,
}

/// Runs a command made by [`bounded`] to its end.
fn run_bounded(mut cmd: Command) -> Run {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("timeout (coreutils) starts");
    // 124: timed out and the TERM was enough; 128 + 9: it took the KILL.
    let timed_out = matches!(out.status.code(), Some(124) | Some(137));
    Run {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        timed_out,
    }
}

/// `program` under coreutils' `timeout`, which makes itself the leader of a new process group
/// and, after `limit`, signals only that group (the script and whatever it started: graphd,
/// the other end of a pipe), then KILLs it 5 s later if it is still there. This test never
/// signals a process itself.
fn bounded(program: &str, limit: Duration) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.arg("--kill-after=5")
        .arg(format!("{:.3}", limit.as_secs_f64()))
        .arg(program);
    cmd
}

/// Runs one block against its own emulator; `Err` says what went wrong.
fn run_block(block: &Block) -> Result<(), String> {
    let s = start(50);
    let info = s.emu.info();
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_graphd"), bin.join("graphd")).unwrap();
    let script = tmp.path().join("block.sh");
    std::fs::write(&script, &block.script).unwrap();

    // The environment of `Setup::std_graphd` (tenant, client id, endpoints, CA), on bash.
    let template = s.std_graphd();
    let mut cmd = bounded("bash", BLOCK_TIMEOUT);
    cmd.env_clear();
    for (k, v) in template.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin.clone()];
    paths.extend(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(paths).unwrap())
        .env("HOME", &work)
        .current_dir(&work)
        .arg("-euo")
        .arg("pipefail")
        .arg(&script);

    for need in block.needs() {
        match need.as_str() {
            "AZURE_CLIENT_SECRET" => {
                cmd.env("AZURE_CLIENT_SECRET", &info.client_secret);
            }
            "cert.pem" => {
                std::fs::copy(&info.cert_pem, work.join("cert.pem")).unwrap();
            }
            "key.pem" => write_private(
                &work.join("key.pem"),
                &std::fs::read(&info.key_pem).unwrap(),
            ),
            other => {
                return Err(format!(
                    "unknown `# needs:` item {other:?} (known: {})",
                    KNOWN_NEEDS.join(", ")
                ));
            }
        }
    }

    let run = run_bounded(cmd);
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let shown = || format!("--- stdout:\n{stdout}\n--- stderr:\n{}", run.stderr);
    if run.timed_out {
        return Err(format!(
            "did not finish within {BLOCK_TIMEOUT:?}\n{}",
            shown()
        ));
    }
    if run.code != Some(0) {
        return Err(format!("exited {:?}\n{}", run.code, shown()));
    }
    if run.stderr.contains("panicked at") {
        return Err(format!("graphd panicked\n{}", shown()));
    }
    let printed = format!("{stdout}{}", run.stderr);
    if printed.contains(&info.client_secret) || printed.contains("eyJ") {
        return Err(format!("printed a secret or a JWT\n{}", shown()));
    }
    if stdout.trim_start().starts_with(['{', '[']) {
        let mut documents = 0;
        for value in
            serde_json::Deserializer::from_slice(&run.stdout).into_iter::<serde_json::Value>()
        {
            if let Err(e) = value {
                return Err(format!("stdout is not all JSON: {e}\n{}", shown()));
            }
            documents += 1;
        }
        assert!(documents > 0);
    }
    Ok(())
}

#[test]
fn fences_are_found_and_needs_parsed() {
    let text = "intro\n```sh\nnot run\n```\n\n```sh run\n# needs: cert.pem key.pem (the app's)\ngraphd x\n```\n\
                ````md\n```sh run\ninside a four-backtick fence: not a block of its own\n```\n````\n\
                ```` ```sh run ```` inline\n```sh run\ngraphd y\n```\n";
    let blocks = runnable_blocks(text, "t.md");
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    assert_eq!(blocks[0].place, "t.md:6");
    assert_eq!(blocks[0].needs(), ["cert.pem", "key.pem"]);
    assert_eq!(
        blocks[0].script,
        "# needs: cert.pem key.pem (the app's)\ngraphd x\n"
    );
    assert_eq!(blocks[1].script, "graphd y\n");
    assert!(blocks[1].needs().is_empty());
}

#[test]
fn a_block_that_hangs_is_stopped() {
    let mut cmd = bounded("bash", Duration::from_millis(500));
    cmd.arg("-c").arg("sleep 30 | cat");
    let started = Instant::now();
    let run = run_bounded(cmd);
    assert!(run.timed_out, "not stopped");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn every_runnable_example_runs() {
    let blocks: Vec<Block> = doc_files()
        .iter()
        .flat_map(|(name, path)| runnable_blocks(&std::fs::read_to_string(path).unwrap(), name))
        .collect();
    assert!(
        !blocks.is_empty(),
        "no ```sh run block in README.md or docs/*.md: the examples would go untested"
    );
    let mut failures = Vec::new();
    for block in &blocks {
        let started = Instant::now();
        if let Err(why) = run_block(block) {
            failures.push(format!(
                "{} (after {:.1} s): {why}",
                block.place,
                started.elapsed().as_secs_f64()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} runnable examples failed:\n\n{}",
        failures.len(),
        blocks.len(),
        failures.join("\n\n")
    );
}

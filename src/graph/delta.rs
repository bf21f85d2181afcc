//! Delta query (PROTOCOL.md §9): the STATE file that keeps a round's `@odata.deltaLink`
//! between runs, what that state is bound to, the report a consumer reads after a run, and
//! which Graph answers mean the sync state is gone.
//!
//! A STATE file is input like any other: it is read with a size cap, parsed into typed fields
//! (a reason for a bad file names a line and column, never content), checked against the
//! run's binding (authority, tenant, client, Graph origin, API version, resource path,
//! `$select`, `$filter` and any other option of the first request) and its deltaLink against
//! the Graph origin, all before a token is asked for. It holds no secret: the deltaLink's
//! token is an opaque position in Graph's change journal, useless without an access token.
//! Writing is atomic (`files::replace_private`: temp file, fsync, rename, mode 0600), and
//! happens only after the round's last item reached stdout; that ordering is the caller's
//! (`commands::listing`), this module does the I/O of one file at a time.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use super::{GraphError, origin};
use crate::diagnostic::Diagnostic;
use crate::files;

/// The `format` of a STATE file this graphd writes and reads.
pub const STATE_FORMAT: &str = "graphd-delta-state/1";
/// The `format` of a report file.
pub const REPORT_FORMAT: &str = "graphd-delta-report/1";
/// Largest STATE file read: a deltaLink with a long `$select` and 50 ids in `$filter` is a few
/// KiB; anything near this is not a STATE file.
pub const MAX_STATE_BYTES: u64 = 1024 * 1024;

/// What a delta state is valid for: the same request to the same directory as the same app.
/// A round continued from a state made for anything else would apply one directory's changes
/// to another's copy, or miss the properties the consumer selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// Origin of the Entra authority host.
    pub authority: String,
    pub tenant: String,
    pub client_id: String,
    /// Origin of Graph.
    pub graph: String,
    /// `v1.0` or `beta`.
    pub api_version: String,
    /// The delta function's path below the version, e.g. `users/delta`.
    pub resource: String,
    /// `$select` of the first request, in the order given (compared as a set).
    #[serde(default)]
    pub select: Vec<String>,
    /// `$filter` of the first request.
    #[serde(default)]
    pub filter: Option<String>,
    /// Any other query option of the first request, as `name=value`, sorted (`get` only).
    #[serde(default)]
    pub options: Vec<String>,
}

impl Binding {
    /// Whether a saved deltaLink continues this binding's delta function: its path is
    /// `/{api_version}/{resource}` (Graph may spell the function `delta()` or
    /// `microsoft.graph.delta`), so an edited STATE cannot make a `users` round read `groups`.
    /// `Err` holds the path found and the one expected.
    pub fn admits(&self, link: &Url) -> Result<(), (String, String)> {
        fn norm(path: &str) -> String {
            path.trim_end_matches('/')
                .to_ascii_lowercase()
                .replace("microsoft.graph.delta", "delta")
                .replace("delta()", "delta")
        }
        let expected = format!("/{}/{}", self.api_version, self.resource);
        if norm(link.path()) == norm(&expected) {
            Ok(())
        } else {
            Err((link.path().to_string(), expected))
        }
    }

    /// The first field in which `current` differs from this (the saved) binding: its name,
    /// the saved value and the current one, made safe for a terminal (the saved one comes from
    /// a file that may not be graphd's).
    pub fn difference(&self, current: &Binding) -> Option<(&'static str, String, String)> {
        self.first_difference(current)
            .map(|(name, saved, now)| (name, shown(&saved), shown(&now)))
    }

    fn first_difference(&self, current: &Binding) -> Option<(&'static str, String, String)> {
        let list = |v: &[String]| {
            if v.is_empty() {
                "(none)".to_string()
            } else {
                v.join(",")
            }
        };
        let set = |v: &[String]| {
            let mut s: Vec<String> = v.to_vec();
            s.sort();
            s.dedup();
            s
        };
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "(none)".into());
        let fields = [
            (
                "authority host",
                self.authority.clone(),
                current.authority.clone(),
            ),
            ("tenant", self.tenant.clone(), current.tenant.clone()),
            (
                "client id",
                self.client_id.clone(),
                current.client_id.clone(),
            ),
            ("Graph endpoint", self.graph.clone(), current.graph.clone()),
            (
                "API version",
                self.api_version.clone(),
                current.api_version.clone(),
            ),
            ("resource", self.resource.clone(), current.resource.clone()),
        ];
        for (name, saved, now) in fields {
            if saved != now {
                return Some((name, saved, now));
            }
        }
        if set(&self.select) != set(&current.select) {
            return Some(("--select", list(&self.select), list(&current.select)));
        }
        if self.filter != current.filter {
            return Some(("--filter", opt(&self.filter), opt(&current.filter)));
        }
        if self.options != current.options {
            return Some(("query options", list(&self.options), list(&current.options)));
        }
        None
    }
}

/// Longest value an error quotes from a STATE file.
const MAX_SHOWN: usize = 200;

/// `s` as an error may show it: control and bidi-override characters escaped (`\u{1b}`), cut
/// at [`MAX_SHOWN`] characters.
fn shown(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_SHOWN + 8));
    for (i, c) in s.chars().enumerate() {
        if i == MAX_SHOWN {
            out.push('…');
            break;
        }
        if c.is_control()
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
        {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// What kind of round a run delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Round {
    /// Every object: the consumer replaces its copy (and so learns of deletions it missed).
    Full,
    /// What changed since the previous round: the consumer applies it, in order.
    Changes,
    /// Nothing listed; the state now points at "now" (`--delta-from-now`).
    FromNow,
}

impl Round {
    pub fn name(self) -> &'static str {
        match self {
            Round::Full => "full",
            Round::Changes => "changes",
            Round::FromNow => "from_now",
        }
    }
}

/// Why a run's round is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// There was no STATE file: the first run.
    NoState,
    /// `--delta-reset`.
    Reset,
    /// Graph said the saved state is gone (410, `resyncRequired`, `syncState*`).
    Resync,
    /// The saved deltaLink.
    DeltaLink,
    /// `--delta-from-now`.
    FromNow,
}

/// A STATE file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`STATE_FORMAT`].
    pub format: String,
    pub binding: Binding,
    /// Where the next round starts.
    pub delta_link: String,
    /// When the round that produced `delta_link` ended (RFC 3339), for people reading the file.
    pub saved_at: String,
    /// The round that produced `delta_link`, its items and removals: for people, not read back.
    pub round: Round,
    pub items: u64,
    pub removed: u64,
}

impl State {
    /// Parses a STATE file's bytes: the reason for a bad file names a line and column or a
    /// field, never the content (the file may not be graphd's at all).
    pub fn parse(bytes: &[u8]) -> Result<State, String> {
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
        }
        let head: Head =
            serde_json::from_slice(bytes).map_err(|e| crate::diagnostic::json_position(&e))?;
        match head.format.as_deref() {
            Some(STATE_FORMAT) => {}
            Some(f) if f.starts_with("graphd-delta-state/") => {
                return Err("a STATE format this graphd does not know (a newer graphd's?)".into());
            }
            _ => return Err("no \"format\": \"graphd-delta-state/1\"".into()),
        }
        serde_json::from_slice(bytes).map_err(|e| crate::diagnostic::json_position(&e))
    }

    /// The file's bytes: pretty JSON and a newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// The deltaLink of a STATE file, if graphd may send its token there: https, on the Graph
/// origin, no user info, no fragment. (`Graph::request` checks the origin again.)
pub fn check_link(graph: &Url, link: &str) -> Result<Url, LinkProblem> {
    let url = Url::parse(link).map_err(|_| LinkProblem::NotHttps)?;
    if url.scheme() != "https" {
        return Err(LinkProblem::NotHttps);
    }
    let found = origin(&url);
    let expected = origin(graph);
    if found != expected || !url.username().is_empty() || url.password().is_some() {
        return Err(LinkProblem::Foreign { found, expected });
    }
    if url.fragment().is_some() {
        return Err(LinkProblem::NotHttps);
    }
    Ok(url)
}

/// Why a saved deltaLink is not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkProblem {
    NotHttps,
    Foreign { found: String, expected: String },
}

/// Whether Graph's answer says the sync state is gone and a full round is needed: HTTP 410,
/// or one of the codes Graph uses for it (PROTOCOL.md §9). Returns the status and code.
pub fn state_gone(e: &GraphError) -> Option<(u16, String)> {
    const CODES: [&str; 3] = ["syncStateNotFound", "syncStateInvalid", "resyncRequired"];
    match e {
        GraphError::Refused { status, code, .. }
            if *status == 410 || CODES.iter().any(|c| c.eq_ignore_ascii_case(code)) =>
        {
            Some((*status, code.clone()))
        }
        _ => None,
    }
}

/// Reads a STATE file: `Ok(None)` when there is none (the first run), as long as the directory
/// it will be written to exists (checked now, not after a round of 100,000 objects).
pub fn load(path: &Path) -> Result<Option<State>, DeltaError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // A FIFO put in STATE's place must not block the open (it is refused below).
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return check_dir(path).map(|()| None),
        Err(e) => return Err(DeltaError::Read(path.to_owned(), e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| DeltaError::Read(path.to_owned(), e))?;
    if !meta.is_file() {
        return Err(DeltaError::Corrupt {
            path: path.to_owned(),
            reason: "not a regular file".into(),
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_STATE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| DeltaError::Read(path.to_owned(), e))?;
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(DeltaError::Corrupt {
            path: path.to_owned(),
            reason: format!("larger than {} KiB", MAX_STATE_BYTES / 1024),
        });
    }
    State::parse(&bytes)
        .map(Some)
        .map_err(|reason| DeltaError::Corrupt {
            path: path.to_owned(),
            reason,
        })
}

/// Whether the directory a STATE file goes to exists.
pub fn check_dir(path: &Path) -> Result<(), DeltaError> {
    existing_dir(path).map_err(DeltaError::NoStateDir)
}

/// Whether the directory a `--delta-report` file goes to exists (checked before the round).
pub fn check_report_dir(path: &Path) -> Result<(), DeltaError> {
    existing_dir(path).map_err(DeltaError::NoReportDir)
}

/// `Err(dir)` when the directory `path` is in does not exist.
fn existing_dir(path: &Path) -> Result<(), PathBuf> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if dir.is_dir() {
        Ok(())
    } else {
        Err(dir.to_owned())
    }
}

/// Replaces the STATE file atomically (mode 0600).
pub fn save(path: &Path, state: &State) -> Result<(), DeltaError> {
    files::replace_private(path, &state.to_json()).map_err(|e| DeltaError::Save(path.to_owned(), e))
}

/// What a run delivered, for the consumer (`--delta-report FILE`), so that it can tell a full
/// set (replace your copy) from a change set (apply it) without reading stderr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_FORMAT`].
    pub format: String,
    pub round: Round,
    pub cause: Cause,
    /// Objects written to stdout, removed ones included.
    pub items: u64,
    /// Objects written as `"@removed"`.
    pub removed: u64,
    /// Pages Graph sent for the round.
    pub pages: u64,
    /// The STATE file now holding the next round's deltaLink.
    pub state: String,
    /// When the run ended (RFC 3339).
    pub finished_at: String,
    /// With `cause: resync`: Graph's status and error code.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resync: Option<ResyncReason>,
}

/// What Graph answered when it said the state is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResyncReason {
    pub status: u16,
    pub code: String,
}

impl Report {
    /// Writes the report beside `path` (mode 0600, flushed), for [`files::Staged::commit`] to
    /// put in place once STATE is saved.
    pub fn stage(&self, path: &Path) -> Result<files::Staged, DeltaError> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        files::Staged::write(path, &bytes).map_err(|e| DeltaError::Report(path.to_owned(), e))
    }

    /// Removes an earlier run's report, so that a report present after a run is this run's.
    pub fn remove_old(path: &Path) -> Result<(), DeltaError> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(DeltaError::Report(path.to_owned(), e))
            }
            _ => Ok(()),
        }
    }
}

/// A delta run that cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    #[error("cannot read the delta state {}", .0.display())]
    Read(PathBuf, #[source] io::Error),
    #[error("the directory of the delta state, {}, does not exist", .0.display())]
    NoStateDir(PathBuf),
    #[error("the directory of the delta report, {}, does not exist", .0.display())]
    NoReportDir(PathBuf),
    #[error("{} is not a graphd delta state file ({reason})", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("the delta state {} was made for {field} {saved}, not {current}", path.display())]
    Mismatch {
        path: PathBuf,
        field: &'static str,
        saved: String,
        current: String,
    },
    #[error(
        "the deltaLink in {} goes to {found}, not to the Graph origin {expected}; not sending the token there",
        path.display()
    )]
    ForeignLink {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("the deltaLink in {} is not an https URL", path.display())]
    BadLink { path: PathBuf },
    #[error("cannot save the delta state {}; the round's output was delivered, the next run repeats it", .0.display())]
    Save(PathBuf, #[source] io::Error),
    #[error("cannot write the delta report {}", .0.display())]
    Report(PathBuf, #[source] io::Error),
    #[error("the delta state and the delta report are the same file, {}", .0.display())]
    SameFile(PathBuf),
    #[error("Graph ended the delta round without an @odata.deltaLink; the state is unchanged")]
    NoDeltaLink,
    #[error(
        "Graph said the sync state is gone (HTTP {status} {code}) after this round's first page was written; {} is unchanged",
        path.display()
    )]
    LostMidRound {
        path: PathBuf,
        status: u16,
        code: String,
    },
    #[error("{0} is not a delta function (e.g. /users/delta, /groups/delta)")]
    NotDeltaPath(String),
    #[error(
        "the parameters file's endpoint {0} is not a users collection a delta round can start from"
    )]
    Endpoint(String),
    #[error(
        "{0} carries a $skiptoken or $deltatoken; graphd keeps the round's links in the state file"
    )]
    LinkAsPath(String),
}

impl DeltaError {
    /// The user must change the command or the file (exit code 2, `error` decides).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::Corrupt { .. }
                | Self::NoStateDir(_)
                | Self::NoReportDir(_)
                | Self::Mismatch { .. }
                | Self::ForeignLink { .. }
                | Self::BadLink { .. }
                | Self::SameFile(_)
                | Self::NotDeltaPath(_)
                | Self::Endpoint(_)
                | Self::LinkAsPath(_)
        )
    }

    /// Graph misbehaved or lost the state mid-round: a later run may succeed (exit code 5).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::NoDeltaLink | Self::LostMidRound { .. })
    }
}

impl Diagnostic for DeltaError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Read(..) | Self::Save(..) => {
                "check the directory exists and that this user may write it (for systemd, StateDirectory=)".into()
            }
            Self::Report(..) => "check the report's directory exists and is writable".into(),
            Self::NoStateDir(dir) | Self::NoReportDir(dir) => format!(
                "create it first (mkdir -m 700 {}), or for systemd set StateDirectory=",
                dir.display()
            ),
            Self::Corrupt { .. } | Self::BadLink { .. } => {
                "pass --delta-reset to start a full round and rewrite the file (apply that round as a full set)".into()
            }
            Self::Mismatch { .. } => {
                "use the state file made for this command, or pass --delta-reset to start a full round for this one \
                 and rewrite the file"
                    .into()
            }
            Self::ForeignLink { .. } => {
                "the file was edited or made for another --graph-endpoint; pass --delta-reset to start again".into()
            }
            Self::SameFile(_) => "give --delta-report another path".into(),
            Self::NoDeltaLink => "run again: the round is repeated from the saved state".into(),
            Self::LostMidRound { .. } => {
                "run again: the next run starts from the saved state, and Graph's answer then starts a full round".into()
            }
            Self::NotDeltaPath(_) => "e.g. graphd get /groups/delta --all --delta STATE".into(),
            Self::LinkAsPath(_) => "give the collection's delta path without a token, e.g. /groups/delta".into(),
            Self::Endpoint(_) => {
                "with --delta, `users` needs an endpoint of .../v1.0/users or .../beta/users (with $select or $filter \
                 at most); for another collection use `graphd get PATH/delta --delta STATE`"
                    .into()
            }
        })
    }
}

#[cfg(test)]
mod tests;

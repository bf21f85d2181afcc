//! The control endpoint, for scripts that run the emulator *binary* and change its directory
//! while a client runs: `POST {authority}/_emulator/directory` (`Info::directory_url`) with one
//! JSON operation, or an array of them applied in order (stopping at the first that fails).
//!
//! | operation | answer |
//! |---|---|
//! | `{"op":"add","collection":"users","value":{"displayName":"Ada"}}` | `{"id":"<new id>"}` |
//! | `{"op":"update","collection":"users","id":"<id>","patch":{"jobTitle":"CTO"}}` | `{}` |
//! | `{"op":"soft_delete","collection":"users","id":"<id>"}` | `{}` |
//! | `{"op":"hard_delete","collection":"users","id":"<id>"}` | `{}` |
//! | `{"op":"restore","collection":"users","id":"<id>"}` | `{}` |
//! | `{"op":"touch","n":1000}` (n users get a new jobTitle) | `{"ids":["<id>", ...]}` |
//! | `{"op":"expire_delta"}` (410 `resyncRequired`), or with `"status":400,"code":"syncStateNotFound"` | `{}` |
//! | `{"op":"set_latency","ms":40}` | `{}` |
//!
//! `collection` is `users` (the default) or `groups`. An array answers an array of these.
//! Failures answer `400` (`{"error":"invalid","message":...}`, with `"index"` for an array) or
//! `404` (`"error":"not_found"`). Like everything here it listens on 127.0.0.1 only, and it is
//! logged as an "other" request of the authority listener, never as a Graph request.

use crate::directory::{Collection, DirectoryError};
use crate::state::Shared;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

fn users() -> Collection {
    Collection::Users
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Op {
    Add {
        #[serde(default = "users")]
        collection: Collection,
        #[serde(default = "empty_object")]
        value: Value,
    },
    Update {
        #[serde(default = "users")]
        collection: Collection,
        id: String,
        patch: Value,
    },
    SoftDelete {
        #[serde(default = "users")]
        collection: Collection,
        id: String,
    },
    HardDelete {
        #[serde(default = "users")]
        collection: Collection,
        id: String,
    },
    Restore {
        #[serde(default = "users")]
        collection: Collection,
        id: String,
    },
    Touch {
        n: usize,
    },
    ExpireDelta {
        status: Option<u16>,
        code: Option<String>,
    },
    SetLatency {
        ms: u64,
    },
}

fn empty_object() -> Value {
    json!({})
}

/// A failed operation: status and body.
type Failure = (StatusCode, Value);

fn invalid(message: impl Into<String>) -> Failure {
    (
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid", "message": message.into()}),
    )
}

fn apply(s: &Shared, op: Op) -> Result<Value, Failure> {
    let dir = &s.directory;
    let done = |r: Result<(), DirectoryError>| r.map(|()| json!({}));
    let result = match op {
        Op::Add { collection, value } => dir.add(collection, &value).map(|id| json!({"id": id})),
        Op::Update {
            collection,
            id,
            patch,
        } => done(dir.update(collection, &id, &patch)),
        Op::SoftDelete { collection, id } => done(dir.delete(collection, &id, false)),
        Op::HardDelete { collection, id } => done(dir.delete(collection, &id, true)),
        Op::Restore { collection, id } => done(dir.restore(collection, &id)),
        Op::Touch { n } => Ok(json!({"ids": dir.touch_users(n)})),
        Op::ExpireDelta { status, code } => {
            let status = match status {
                None => StatusCode::GONE,
                Some(n) => StatusCode::from_u16(n)
                    .ok()
                    .filter(|s| s.is_client_error() || s.is_server_error())
                    .ok_or_else(|| invalid(format!("status {n} is not 400..=599")))?,
            };
            s.delta
                .expire_all(status, code.as_deref().unwrap_or("resyncRequired"));
            Ok(json!({}))
        }
        Op::SetLatency { ms } => {
            crate::latency::set(s, Duration::from_millis(ms));
            Ok(json!({}))
        }
    };
    result.map_err(|e| match e {
        DirectoryError::NotFound { .. } => (
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "message": e.to_string()}),
        ),
        DirectoryError::Invalid(m) => invalid(m),
    })
}

/// Answers one `POST /_emulator/directory`: status and JSON body.
pub(crate) fn directory(s: &Shared, body: &[u8]) -> (StatusCode, Vec<u8>) {
    let parsed: Result<Value, _> = serde_json::from_slice(body);
    let (status, out) = match parsed {
        Err(e) => invalid(format!("the body is not JSON: {e}")),
        Ok(Value::Array(ops)) => {
            let mut answers = Vec::with_capacity(ops.len());
            let mut failed = None;
            for (i, op) in ops.into_iter().enumerate() {
                let r = serde_json::from_value::<Op>(op)
                    .map_err(|e| invalid(format!("not an operation: {e}")))
                    .and_then(|op| apply(s, op));
                match r {
                    Ok(v) => answers.push(v),
                    Err((status, mut v)) => {
                        v["index"] = json!(i);
                        failed = Some((status, v));
                        break;
                    }
                }
            }
            failed.unwrap_or((StatusCode::OK, Value::Array(answers)))
        }
        Ok(op) => match serde_json::from_value::<Op>(op)
            .map_err(|e| invalid(format!("not an operation: {e}")))
            .and_then(|op| apply(s, op))
        {
            Ok(v) => (StatusCode::OK, v),
            Err(f) => f,
        },
    };
    (status, serde_json::to_vec(&out).unwrap_or_default())
}

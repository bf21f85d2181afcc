//! Delta query (PROTOCOL.md §9): `GET /{v1.0|beta}/users/delta` and `/groups/delta`.
//!
//! A *round* is the pages from a first request (or a deltaLink) to the next deltaLink. A round
//! without a token lists every present object; a round from a deltaLink lists each object
//! changed since that link was issued, once, in its state when its page is served: added,
//! restored and updated objects as selected (with `Prefer: return=minimal`, an updated object
//! carries only its changed selected properties and `id`), removed ones as
//! `{"id": ..., "@removed": {"reason": "changed" | "deleted"}}` (soft- / hard-deleted). With
//! `$select`, only changes to selected properties put an object in a round (without it, the
//! default properties are the ones tracked). An object added and deleted between two rounds is
//! still reported as removed. `$deltatoken=latest` answers no objects and a deltaLink for now.
//!
//! Query options: `$select` and `$filter` only on a round's first request (the links carry them:
//! adding either to a link is a 400); `$filter` only `id eq '...'` (joined with `or`) or
//! `id in (...)`, at most 50 ids; `$orderby`, `$search` and `$count` are
//! `Request_UnsupportedQuery`; `$top` is ignored: pages hold `Options::delta_page_size` objects.
//!
//! Tokens are random strings mapped server-side to what they stand for (collection, version,
//! select, filter, journal position), never sequence numbers in the clear. Every token stays
//! usable (a client may retry a page or repeat a round) until `expire_all` makes every token
//! issued so far answer an error (`410 resyncRequired` by default). A token the emulator never
//! issued is `400 syncStateInvalid`. Each request is recorded like any Graph request, with
//! `next_link_verbatim` telling whether the link was followed byte for byte.
//!
//! Permissions: users need `User.Read.All` (or `Directory.Read.All`, or a ReadWrite form), as
//! `/users` does; groups need `Group.Read.All` (or `Directory.Read.All`, or a ReadWrite form),
//! as Graph documents for `/groups/delta` — `User.Read.All` alone gets 403 there. The main app
//! holds both `User.Read.All` and `Group.Read.All`.

use super::odata::{
    Opts, collection_context, opt, parse_id_filter, parse_options, parse_select_of,
};
use super::{GraphError, bad, gerr, unsupported};
use crate::directory::Collection;
use crate::directory::store::{Change, Record, Status, Store, mask_of};
use crate::log::GraphRecord;
use crate::state::Shared;
use axum::http::{HeaderMap, StatusCode, Uri};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Graph's page size for directory delta rounds (it ignores `$top`).
pub const DEFAULT_DELTA_PAGE_SIZE: usize = 200;

/// The query options a delta request may carry (the unsupported ones are refused by name).
const DELTA_OPTIONS: &[&str] = &[
    "$select",
    "$filter",
    "$top",
    "$skiptoken",
    "$deltatoken",
    "$orderby",
    "$search",
    "$count",
];

/// What a round was asked for: fixed by its first request, carried by its links.
#[derive(Clone, Debug)]
struct Query {
    collection: Collection,
    version: &'static str,
    /// `$select` as property indices, or `None` for the default properties.
    select: Option<Vec<usize>>,
    /// `$filter`'s ids, or `None`.
    ids: Option<Arc<Vec<String>>>,
}

/// Where a round's next page starts.
#[derive(Clone, Debug)]
enum Cursor {
    /// A full round: the next slot to look at.
    Scan(usize),
    /// A fixed list of objects (changes, or a filter's ids) and the position in it.
    List(Arc<Vec<Change>>, usize),
}

#[derive(Clone, Debug)]
enum Token {
    /// A nextLink: the round goes on; it covers the journal up to `upto`.
    Next {
        query: Query,
        upto: u64,
        cursor: Cursor,
    },
    /// A deltaLink: the next round returns what changed after `after`.
    Delta { query: Query, after: u64 },
}

/// How expired tokens answer.
#[derive(Clone, Debug)]
struct Expiry {
    status: StatusCode,
    code: String,
}

struct Issued {
    token: Token,
    /// The exact path and query of the link that carries it.
    target: String,
    expired: Option<Expiry>,
}

/// Every delta token issued so far.
#[derive(Default)]
pub(crate) struct DeltaTokens {
    issued: Mutex<HashMap<String, Issued>>,
}

impl DeltaTokens {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Issued>) -> R) -> R {
        f(&mut self.issued.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Makes every token issued so far answer `status` with Graph error `code`; tokens issued
    /// later work.
    pub(crate) fn expire_all(&self, status: StatusCode, code: &str) {
        self.with(|m| {
            for i in m.values_mut() {
                i.expired = Some(Expiry {
                    status,
                    code: code.to_owned(),
                });
            }
        });
    }

    /// Stores `token` under a fresh random value; returns the absolute link carrying it.
    fn issue(&self, s: &Shared, token: Token) -> String {
        let value = crate::util::b64url(&crate::util::random_bytes(24));
        let (query, param) = match &token {
            Token::Next { query, .. } => (query, "$skiptoken"),
            Token::Delta { query, .. } => (query, "$deltatoken"),
        };
        let target = format!(
            "/{}/{}/delta?{param}={value}",
            query.version,
            query.collection.name()
        );
        let link = format!("{}{target}", s.graph_url);
        self.with(|m| {
            m.insert(
                value,
                Issued {
                    token,
                    target,
                    expired: None,
                },
            )
        });
        link
    }
}

/// The message Graph-like errors carry for an expired token.
fn expiry_message(code: &str, collection: Collection) -> String {
    match code {
        "resyncRequired" => format!(
            "Resync required. Replace any local cached copies of the {} with the versions on the server by starting a new delta round without a token.",
            collection.name()
        ),
        "syncStateNotFound" => {
            "The sync state is not found: the delta token has expired. Start a new delta round without a token.".into()
        }
        "syncStateInvalid" => {
            "The sync state is invalid. Start a new delta round without a token.".into()
        }
        other => format!("The delta token can no longer be used ({other})."),
    }
}

fn never_issued() -> GraphError {
    gerr(
        StatusCode::BAD_REQUEST,
        "syncStateInvalid",
        "The sync state is invalid: this delta token was not issued by this service. Start a new delta round without a token.",
    )
}

/// Whether the request prefers `return=minimal` (the `Prefer` header may list several
/// preferences, comma-separated, and may be repeated).
fn prefers_minimal(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| {
            p.split(';')
                .next()
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("return=minimal"))
        })
}

/// One page of a delta round: the body, and whether `return=minimal` was applied.
pub(super) fn page(
    s: &Shared,
    collection: Collection,
    uri: &Uri,
    headers: &HeaderMap,
    rec: &mut GraphRecord,
    version: &'static str,
    empty: bool,
) -> Result<(Vec<u8>, bool), GraphError> {
    let opts = parse_options(uri.query(), DELTA_OPTIONS)?;
    for name in ["$orderby", "$search", "$count"] {
        if opt(&opts, name).is_some() {
            return Err(unsupported(format!(
                "The query option '{name}' is not supported with delta query."
            )));
        }
    }
    let minimal = prefers_minimal(headers);
    let dir = s.directory.read();
    let body = match collection {
        Collection::Users => serve(
            s,
            &dir.users,
            dir.seq(),
            collection,
            uri,
            &opts,
            rec,
            version,
            minimal,
            empty,
        ),
        Collection::Groups => serve(
            s,
            &dir.groups,
            dir.seq(),
            collection,
            uri,
            &opts,
            rec,
            version,
            minimal,
            empty,
        ),
    }?;
    Ok((body, minimal))
}

/// The properties an object is written with: the selection (or the defaults), and `id`,
/// which delta always returns.
fn props_of<R: Record>(select: Option<&[usize]>) -> Vec<usize> {
    let mut props = select.unwrap_or(R::DEFAULT).to_vec();
    if !props.contains(&R::ID) {
        props.push(R::ID);
    }
    props
}

#[allow(clippy::too_many_arguments)]
fn serve<R: Record>(
    s: &Shared,
    store: &Store<R>,
    seq: u64,
    collection: Collection,
    uri: &Uri,
    opts: &Opts,
    rec: &mut GraphRecord,
    version: &'static str,
    minimal: bool,
    empty: bool,
) -> Result<Vec<u8>, GraphError> {
    let skip = opt(opts, "$skiptoken");
    let delta = opt(opts, "$deltatoken");
    let (query, upto, cursor) = match (skip, delta) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "A delta request carries $skiptoken or $deltatoken, not both.",
            ));
        }
        (None, None) | (None, Some("latest")) => {
            let select = opt(opts, "$select").map(parse_select_of::<R>).transpose()?;
            let ids = opt(opts, "$filter")
                .map(parse_id_filter)
                .transpose()?
                .map(Arc::new);
            let query = Query {
                collection,
                version,
                select,
                ids,
            };
            if delta.is_some() {
                // `latest`: no objects, and a deltaLink for now.
                let link = s.delta.issue(s, Token::Delta { query, after: seq });
                rec.items = 0;
                return Ok(body(s, version, collection, None, b"[]", None, Some(&link)));
            }
            let cursor = match &query.ids {
                None => Cursor::Scan(0),
                Some(ids) => {
                    let mut slots: Vec<usize> = ids
                        .iter()
                        .filter_map(|id| store.slot_of(id))
                        .filter(|&slot| store.status(slot) == Status::Present)
                        .collect();
                    slots.sort_unstable();
                    slots.dedup();
                    let list = slots
                        .into_iter()
                        .map(|slot| Change {
                            slot,
                            whole: true,
                            mask: 0,
                        })
                        .collect();
                    Cursor::List(Arc::new(list), 0)
                }
            };
            (query, seq, cursor)
        }
        (Some(value), None) | (None, Some(value)) => {
            if opt(opts, "$select").is_some() || opt(opts, "$filter").is_some() {
                return Err(bad(
                    "$select and $filter belong on the first request of a delta round; its nextLink and deltaLink carry them. Follow the link as it was given.",
                ));
            }
            let (token, target, expired) = s
                .delta
                .with(|m| {
                    m.get(value)
                        .map(|i| (i.token.clone(), i.target.clone(), i.expired.clone()))
                })
                .ok_or_else(never_issued)?;
            let here = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("");
            rec.next_link_verbatim = Some(here == target);
            if let Some(e) = expired {
                let message = expiry_message(&e.code, collection);
                return Err(gerr(e.status, e.code, message));
            }
            match token {
                Token::Next {
                    query,
                    upto,
                    cursor,
                } if skip.is_some() && query.collection == collection => (query, upto, cursor),
                Token::Delta { query, after }
                    if delta.is_some() && query.collection == collection =>
                {
                    let tracked = mask_of(&props_of::<R>(query.select.as_deref()));
                    let only: Option<Vec<usize>> = query
                        .ids
                        .as_ref()
                        .map(|ids| ids.iter().filter_map(|id| store.slot_of(id)).collect());
                    let changes = store.changes_since(after, tracked, only.as_deref());
                    (query, seq, Cursor::List(Arc::new(changes), 0))
                }
                _ => return Err(never_issued()),
            }
        }
    };

    let props = props_of::<R>(query.select.as_deref());
    let page_size = s.delta_page_size.max(1);
    let mut value: Vec<u8> = Vec::with_capacity(page_size.min(1000) * 400 + 2);
    value.push(b'[');
    let mut items = 0;
    let next = if empty {
        Some(cursor)
    } else {
        match cursor {
            Cursor::Scan(mut slot) => {
                let slots = store.slots();
                while slot < slots && items < page_size {
                    if let Some(o) = store.get(slot) {
                        if items > 0 {
                            value.push(b',');
                        }
                        o.write_json(&mut value, &props);
                        items += 1;
                    }
                    slot += 1;
                }
                (slot..slots)
                    .find(|&j| store.status(j) == Status::Present)
                    .map(Cursor::Scan)
            }
            Cursor::List(list, pos) => {
                let end = (pos + page_size).min(list.len());
                for (i, change) in list[pos..end].iter().enumerate() {
                    if i > 0 {
                        value.push(b',');
                    }
                    write_change(store, change, &props, minimal, &mut value);
                }
                items = end - pos;
                (end < list.len()).then(|| Cursor::List(list.clone(), end))
            }
        }
    };
    value.push(b']');
    rec.items = items;
    let select_names: Option<Vec<&str>> = query
        .select
        .as_ref()
        .map(|sel| sel.iter().map(|&p| R::PROPS[p]).collect());
    let (next_link, delta_link) = match next {
        Some(cursor) => {
            let token = Token::Next {
                query,
                upto,
                cursor,
            };
            (Some(s.delta.issue(s, token)), None)
        }
        None => (
            None,
            Some(s.delta.issue(s, Token::Delta { query, after: upto })),
        ),
    };
    Ok(body(
        s,
        version,
        collection,
        select_names.as_deref(),
        &value,
        next_link.as_deref(),
        delta_link.as_deref(),
    ))
}

/// One object of a change list, as its current status and the request say.
fn write_change<R: Record>(
    store: &Store<R>,
    change: &Change,
    props: &[usize],
    minimal: bool,
    out: &mut Vec<u8>,
) {
    let reason = match store.status(change.slot) {
        Status::Present => {
            let object = store.any(change.slot);
            if minimal && !change.whole {
                let changed: Vec<usize> = props
                    .iter()
                    .copied()
                    .filter(|&p| p == R::ID || change.mask & (1 << p) != 0)
                    .collect();
                object.write_json(out, &changed);
            } else {
                object.write_json(out, props);
            }
            return;
        }
        Status::SoftDeleted => "changed",
        Status::HardDeleted => "deleted",
    };
    out.extend_from_slice(b"{\"id\":");
    let _ = serde_json::to_writer(&mut *out, store.any(change.slot).id());
    out.extend_from_slice(b",\"@removed\":{\"reason\":\"");
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\"}}");
}

/// `{"@odata.context":..,["@odata.nextLink":..,]"value":[..][,"@odata.deltaLink":..]}`.
fn body(
    s: &Shared,
    version: &str,
    collection: Collection,
    select: Option<&[&str]>,
    value: &[u8],
    next_link: Option<&str>,
    delta_link: Option<&str>,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(value.len() + 512);
    // Writing into a Vec cannot fail, so the results are ignored.
    body.extend_from_slice(b"{\"@odata.context\":");
    let _ = serde_json::to_writer(
        &mut body,
        &collection_context(s, version, collection.name(), select),
    );
    if let Some(link) = next_link {
        body.extend_from_slice(b",\"@odata.nextLink\":");
        let _ = serde_json::to_writer(&mut body, link);
    }
    body.extend_from_slice(b",\"value\":");
    body.extend_from_slice(value);
    if let Some(link) = delta_link {
        body.extend_from_slice(b",\"@odata.deltaLink\":");
        let _ = serde_json::to_writer(&mut body, link);
    }
    body.push(b'}');
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{Group, User};
    use axum::http::HeaderValue;

    #[test]
    fn minimal_preference_is_found_among_others() {
        let mut h = HeaderMap::new();
        assert!(!prefers_minimal(&h));
        h.append("prefer", HeaderValue::from_static("odata.maxpagesize=5"));
        assert!(!prefers_minimal(&h));
        h.append(
            "prefer",
            HeaderValue::from_static("respond-async, Return=Minimal"),
        );
        assert!(prefers_minimal(&h));
    }

    #[test]
    fn props_always_hold_id() {
        assert_eq!(props_of::<Group>(Some(&[1])), vec![1, 0]);
        assert_eq!(props_of::<Group>(None), vec![0, 1, 2, 3]);
        assert_eq!(props_of::<User>(None).len(), 11);
    }
}

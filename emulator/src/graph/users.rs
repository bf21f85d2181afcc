//! `GET /{v1.0|beta}/users` and `GET /{v1.0|beta}/users/{id | userPrincipalName}`: one page of
//! the directory (filtered, searched, ordered, selected as the query options say) serialized
//! straight into a byte buffer, with `@odata.count` on the first page and an opaque
//! `$skiptoken` nextLink whose exact target is recorded, so tests can tell whether a client
//! followed it verbatim.

use super::odata::{
    Filter, LINK_ENCODE, Opts, context_url, opt, parse_filter, parse_select, parse_top,
};
use super::{GraphError, advanced, bad, gerr, unsupported};
use crate::directory::Prop;
use crate::directory::store::Status;
use crate::log::GraphRecord;
use crate::state::{IssuedPage, PageState, Shared};
use axum::http::{StatusCode, Uri};
use percent_encoding::utf8_percent_encode;

/// Graph's default page size for users.
const DEFAULT_TOP: usize = 100;

/// One page; `empty` (a fault) sends no users and a nextLink back to this same page.
pub(super) fn list(
    s: &Shared,
    uri: &Uri,
    opts: &Opts,
    rec: &mut GraphRecord,
    version: &'static str,
    empty: bool,
) -> Result<Vec<u8>, GraphError> {
    let first_page;
    let state = if let Some(token) = opt(opts, "$skiptoken") {
        first_page = false;
        rec.next_link_verbatim = Some(false);
        let pages = s.pages.lock().unwrap_or_else(|p| p.into_inner());
        let issued = pages
            .get(token)
            .ok_or_else(|| bad("The $skiptoken value is invalid or has expired."))?;
        let target = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("");
        rec.next_link_verbatim = Some(target == issued.target);
        issued.state.clone()
    } else {
        first_page = true;
        let link_query = opts
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, LINK_ENCODE),
                    utf8_percent_encode(v, LINK_ENCODE)
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let count = match opt(opts, "$count") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(bad(format!(
                    "Invalid value '{v}' for $count query option found. The $count query option requires a Boolean value."
                )));
            }
        };
        let eventual = rec
            .consistency_level
            .as_deref()
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("eventual"));
        // ne / endsWith parse only as advanced queries; without them, the basic parser's error.
        let filter = match opt(opts, "$filter") {
            None => None,
            Some(f) => match parse_filter(f) {
                Ok(f) => Some(f),
                Err(e) if e.code == "Request_UnsupportedQuery" && eventual && count => {
                    Some(advanced::parse_advanced_filter(f).ok_or(e)?)
                }
                Err(e) => return Err(e),
            },
        };
        PageState {
            offset: 0,
            top: opt(opts, "$top")
                .map(parse_top)
                .transpose()?
                .unwrap_or(DEFAULT_TOP),
            select: opt(opts, "$select").map(parse_select).transpose()?,
            filter,
            count,
            link_query,
            search: opt(opts, "$search")
                .map(advanced::parse_search)
                .transpose()?,
            order: opt(opts, "$orderby")
                .map(advanced::parse_orderby)
                .transpose()?,
            version,
        }
    };
    let eventual = rec
        .consistency_level
        .as_deref()
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("eventual"));
    if state.count && !eventual {
        return Err(bad(
            "$count is only supported with the request header 'ConsistencyLevel: eventual' (re-send it on every page).",
        ));
    }
    // Checked on every page: headers are not carried over by nextLinks.
    if state.search.is_some() && !eventual {
        return Err(bad(
            "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
        ));
    }
    let advanced = eventual && state.count;
    if let Some(order) = state.order
        && !advanced
        && (state.filter.is_some() || !order.is_plain())
    {
        return Err(unsupported("Sorting not supported for current query."));
    }
    if matches!(state.filter, Some(Filter::EndsWith(..) | Filter::Ne(..))) && !advanced {
        return Err(unsupported(
            "Operator 'endsWith' / 'ne' is not supported because the required parameters might be missing. \
             Try adding $count with a value of true and set the ConsistencyLevel header to eventual.",
        ));
    }

    // One read lock for the page: it is one consistent snapshot of the directory.
    let dir = s.directory.read();
    let users = &dir.users;
    let matches = |i: usize| {
        if state.filter.is_none() && state.search.is_none() {
            return users.status(i) == Status::Present;
        }
        users.get(i).is_some_and(|u| {
            state.filter.as_ref().is_none_or(|f| f.matches(&u))
                && state.search.as_ref().is_none_or(|q| q.matches(&u))
        })
    };
    // With $orderby, positions index the sorted matches; without, they are directory indices.
    let ordered: Option<Vec<usize>> = state.order.map(|o| {
        let mut keyed: Vec<(Option<String>, usize)> = (0..users.slots())
            .filter_map(|i| users.get(i).filter(|_| matches(i)).map(|u| (u, i)))
            .map(|(u, i)| (u.str_prop(o.prop).map(str::to_lowercase), i))
            .collect();
        // Nulls last either way; ties in directory order.
        keyed.sort_by(|(a, i), (b, j)| {
            let by = match (a, b) {
                (Some(a), Some(b)) if o.desc => b.cmp(a),
                (Some(a), Some(b)) => a.cmp(b),
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, None) => std::cmp::Ordering::Equal,
            };
            by.then(i.cmp(j))
        });
        keyed.into_iter().map(|(_, i)| i).collect()
    });
    let len = ordered.as_ref().map_or(users.slots(), Vec::len);
    let at = |pos: usize| ordered.as_ref().map_or(pos, |v| v[pos]);
    let selected = |pos: usize| ordered.is_some() || matches(pos);
    let props: &[Prop] = state.select.as_deref().unwrap_or(&Prop::DEFAULT);
    let mut value: Vec<u8> = Vec::with_capacity(state.top.min(users.slots()) * 400 + 2);
    value.push(b'[');
    let mut items = 0;
    let mut i = state.offset;
    while !empty && i < len && items < state.top {
        if selected(i)
            && let Some(u) = users.get(at(i))
        {
            if items > 0 {
                value.push(b',');
            }
            u.write_json(&mut value, props);
            items += 1;
        }
        i += 1;
    }
    value.push(b']');
    let next = if empty {
        Some(state.offset)
    } else {
        (i..len).find(|&j| selected(j))
    };
    rec.items = items;

    let mut body: Vec<u8> = Vec::with_capacity(value.len() + 512);
    body.extend_from_slice(b"{\"@odata.context\":");
    let _ = serde_json::to_writer(
        &mut body,
        &context_url(s, state.version, state.select.as_deref(), false),
    );
    if first_page && state.count {
        let total = if let Some(o) = &ordered {
            o.len()
        } else if state.filter.is_none() && state.search.is_none() {
            users.present()
        } else {
            (0..users.slots()).filter(|&j| matches(j)).count()
        };
        body.extend_from_slice(format!(",\"@odata.count\":{total}").as_bytes());
    }
    if let Some(next) = next {
        let token = crate::util::b64url(&crate::util::random_bytes(24));
        let sep = if state.link_query.is_empty() { "" } else { "&" };
        let target = format!(
            "/{}/users?{}{sep}$skiptoken={token}",
            state.version, state.link_query
        );
        let link = format!("{}{target}", s.graph_url);
        let next_state = PageState {
            offset: next,
            ..state.clone()
        };
        s.pages.lock().unwrap_or_else(|p| p.into_inner()).insert(
            token,
            IssuedPage {
                state: next_state,
                target,
            },
        );
        body.extend_from_slice(b",\"@odata.nextLink\":");
        let _ = serde_json::to_writer(&mut body, &link);
    }
    body.extend_from_slice(b",\"value\":");
    body.extend_from_slice(&value);
    body.push(b'}');
    Ok(body)
}

pub(super) fn one(
    s: &Shared,
    seg: &str,
    opts: &Opts,
    rec: &mut GraphRecord,
    version: &str,
) -> Result<Vec<u8>, GraphError> {
    let key = percent_encoding::percent_decode_str(seg)
        .decode_utf8()
        .map_err(|_| bad("The request URL is not valid UTF-8 after percent-decoding."))?;
    let select = opt(opts, "$select").map(parse_select).transpose()?;
    let dir = s.directory.read();
    let user = dir.find_user(&key).and_then(|i| dir.users.get(i)).ok_or_else(|| {
        gerr(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    })?;
    let props = select.as_deref().unwrap_or(&Prop::DEFAULT);
    let mut body = Vec::with_capacity(1024);
    body.extend_from_slice(b"{\"@odata.context\":");
    let _ = serde_json::to_writer(&mut body, &context_url(s, version, select.as_deref(), true));
    let mut obj = Vec::with_capacity(512);
    user.write_json(&mut obj, props);
    // Splice the user's members after the context: `{"@odata.context":..,<members>}`.
    if obj.len() > 2 {
        body.push(b',');
        body.extend_from_slice(&obj[1..obj.len() - 1]);
    }
    body.push(b'}');
    rec.items = 1;
    Ok(body)
}

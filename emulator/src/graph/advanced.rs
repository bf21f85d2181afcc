//! Graph's advanced query capabilities on users (PROTOCOL.md §4), strictly: `$search`
//! (`"property:text"` clauses joined by AND/OR, tokenized prefix match) needs the header
//! `ConsistencyLevel: eventual`; `$filter` with `ne`/`endsWith`, `$filter` + `$orderby`, and
//! `$orderby` on anything but displayName/userPrincipalName also need `$count=true`. The
//! checks run on every page, so a client that drops the header after page one is refused.

use super::odata::Filter;
use super::{GraphError, bad, no_property, unsupported};
use crate::directory::{Prop, User};

/// A parsed `$search`: clauses joined by AND (all) or OR (any), left to right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Search {
    clauses: Vec<(Prop, String)>,
    any: bool,
}

impl Search {
    /// Whether `u` matches: some word of the property starts with the text (case-insensitive).
    pub(crate) fn matches(&self, u: &User<'_>) -> bool {
        let one = |(p, text): &(Prop, String)| {
            u.str_prop(*p).is_some_and(|v| {
                let v = v.to_lowercase();
                v.starts_with(text.as_str())
                    || v.split(|c: char| !c.is_alphanumeric())
                        .any(|w| !w.is_empty() && w.starts_with(text.as_str()))
            })
        };
        if self.any {
            self.clauses.iter().any(one)
        } else {
            self.clauses.iter().all(one)
        }
    }
}

/// `"displayName:ada"`, `"displayName:ada" OR "mail:ada"`; quotes are required.
pub(crate) fn parse_search(raw: &str) -> Result<Search, GraphError> {
    let invalid = || {
        bad(format!(
            "Syntax error: character '{raw}' is not valid at position 0 in '$search'."
        ))
    };
    let parts: Vec<&str> = raw.trim().split('"').collect();
    if parts.len() < 3 || parts.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let mut clauses = Vec::new();
    let mut ops = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i % 2 == 1 {
            let (prop, text) = p.split_once(':').ok_or_else(invalid)?;
            let prop = Prop::parse(prop.trim()).ok_or_else(|| no_property(prop.trim()))?;
            if !prop.is_string() {
                return Err(unsupported(format!(
                    "Search is not supported on property '{}'.",
                    prop.name()
                )));
            }
            clauses.push((prop, text.trim().to_lowercase()));
        } else if i != 0 && i != parts.len() - 1 {
            match p.trim() {
                "AND" => ops.push(false),
                "OR" => ops.push(true),
                _ => return Err(invalid()),
            }
        } else if !p.trim().is_empty() {
            return Err(invalid());
        }
    }
    if ops.iter().any(|o| *o != ops[0]) {
        return Err(unsupported(
            "Mixing AND and OR in $search is not supported by graphd-emulator.",
        ));
    }
    Ok(Search {
        clauses,
        any: ops.first().copied().unwrap_or(false),
    })
}

/// A parsed `$orderby`: one property, ascending or descending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Order {
    pub prop: Prop,
    pub desc: bool,
}

impl Order {
    /// Whether Graph sorts on this without advanced query parameters.
    pub(crate) fn is_plain(self) -> bool {
        matches!(self.prop, Prop::DisplayName | Prop::UserPrincipalName)
    }
}

pub(crate) fn parse_orderby(raw: &str) -> Result<Order, GraphError> {
    let mut words = raw.split_whitespace();
    let name = words.next().unwrap_or("");
    let prop = Prop::parse(name).ok_or_else(|| no_property(name))?;
    let desc = match words.next().map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(bad(format!("Syntax error in $orderby: '{raw}'."))),
    };
    if words.next().is_some() || raw.contains(',') {
        return Err(unsupported(
            "Sorting on more than one property is not supported by graphd-emulator.",
        ));
    }
    if !prop.is_string() {
        return Err(unsupported(format!(
            "Sorting not supported for property '{}'.",
            prop.name()
        )));
    }
    Ok(Order { prop, desc })
}

/// `endswith(prop,'x')` and `prop ne 'x'`: the operators only advanced queries have.
pub(crate) fn parse_advanced_filter(raw: &str) -> Option<Filter> {
    let t = raw.trim();
    let lower = t.to_ascii_lowercase();
    if let Some(inner) = lower
        .strip_prefix("endswith(")
        .and_then(|_| t.get("endswith(".len()..))
    {
        let (prop, rest) = inner.split_once(',')?;
        let lit = rest.trim().strip_suffix(')')?.trim();
        let lit = lit
            .strip_prefix('\'')?
            .strip_suffix('\'')?
            .replace("''", "'");
        let p = Prop::parse(prop.trim()).filter(|p| p.is_string())?;
        return Some(Filter::EndsWith(p, lit.to_lowercase()));
    }
    let (prop, rest) = t.split_once(' ')?;
    let rest = rest.trim_start();
    let lit = rest
        .get(..3)
        .filter(|op| op.eq_ignore_ascii_case("ne "))
        .map(|_| rest[3..].trim())?;
    let lit = lit
        .strip_prefix('\'')?
        .strip_suffix('\'')?
        .replace("''", "'");
    let p = Prop::parse(prop).filter(|p| p.is_string())?;
    Some(Filter::Ne(p, lit.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_syntax() {
        let s = parse_search("\"displayName:Ada\"").unwrap();
        assert_eq!(s.clauses, [(Prop::DisplayName, "ada".to_string())]);
        let s = parse_search("\"displayName:a\" OR \"mail:b\"").unwrap();
        assert!(s.any);
        for bad in [
            "displayName:ada",
            "\"ada\"",
            "\"a:b\" XOR \"c:d\"",
            "\"nope:x\"",
        ] {
            assert!(parse_search(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn orderby_and_advanced_filters() {
        assert_eq!(
            parse_orderby("displayName desc").unwrap(),
            Order {
                prop: Prop::DisplayName,
                desc: true
            }
        );
        assert!(parse_orderby("displayName sideways").is_err());
        assert!(parse_orderby("accountEnabled").is_err());
        assert_eq!(
            parse_advanced_filter("endswith(mail,'@Fabrikam.com')"),
            Some(Filter::EndsWith(Prop::Mail, "@fabrikam.com".into()))
        );
        assert_eq!(
            parse_advanced_filter("jobTitle ne 'Engineer'"),
            Some(Filter::Ne(Prop::JobTitle, "engineer".into()))
        );
        assert_eq!(parse_advanced_filter("displayName eq 'x'"), None);
    }
}

//! OData query options: `field eq 'value'` picked out of a `$filter` (the role routes'
//! filters; collections evaluate theirs whole, `filter.rs`), `$search` terms, and `$select`.

use serde_json::Value;

use super::Req;

/// `field eq 'value'` in a `$filter`.
pub(super) fn filter_eq(filter: &str, field: &str) -> Option<String> {
    let lower = filter.to_lowercase();
    let at = lower.find(&format!("{} eq ", field.to_lowercase()))?;
    let rest = &filter[at + field.len() + 4..];
    let rest = rest.trim_start();
    let value = rest.strip_prefix('\'')?;
    let mut out = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
                out.push('\'');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// The lower-cased term of a `$search` (`"property:term"` or `term`).
pub(super) fn search_term(search: &str) -> String {
    search
        .trim_matches('"')
        .split_once(':')
        .map(|(_, t)| t)
        .unwrap_or(search)
        .to_lowercase()
}

impl Req {
    /// The `$filter` (empty when absent).
    pub(super) fn filter(&self) -> &str {
        self.q("filter").unwrap_or("")
    }

    /// Graph's 400 for `$search` without `ConsistencyLevel: eventual`, if that is the case.
    pub(super) fn search_needs_eventual(&self) -> Option<axum::response::Response> {
        (self.q("search").is_some() && !self.eventual()).then(|| {
            self.err(400, "Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
        })
    }
}

/// Keeps only the `$select`ed properties (and annotations).
pub(super) fn select(v: Value, req: &Req) -> Value {
    let Some(sel) = req.q("select") else { return v };
    let wanted: Vec<&str> = sel.split(',').map(str::trim).collect();
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| {
                    k.starts_with('@')
                        || k.contains("@delta")
                        || wanted.iter().any(|w| w.eq_ignore_ascii_case(k))
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[rustfmt::skip]
    fn filters_parse_odata_literals() {
        let eq: fn(&str, &str) -> Option<String> = filter_eq;
        for (parse, filter, field, expected) in [
            (eq, "appId eq '3f1c'", "appId", Some("3f1c")),
            (eq, "userPrincipalName eq 'o''neil@x.com'", "userPrincipalName", Some("o'neil@x.com")),
            (eq, "appId ne 'x'", "appId", None),
        ] {
            assert_eq!(parse(filter, field).as_deref(), expected, "{filter}");
        }
        assert_eq!(search_term("\"displayName:Fin\""), "fin");
    }
}

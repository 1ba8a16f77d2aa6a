//! Queries on directory collections: `$filter`, `$search` and `$orderby`, with the rules of
//! Learn's "Advanced query capabilities on Microsoft Entra ID objects": what works by default,
//! what needs the advanced query parameters (`ConsistencyLevel: eventual` and `$count=true`,
//! or only the header for `$search`), and Graph's refusals otherwise.

use axum::response::Response;
use serde_json::Value;

use super::Req;
use super::filter;
use super::odata::search_term;

/// What a collection supports.
pub(super) struct Rules {
    /// The resource name in Graph's messages (`User`).
    pub resource: &'static str,
    /// Properties `$filter` may name.
    pub filterable: &'static [&'static str],
    /// Properties `$orderby` takes by default.
    pub sortable: &'static [&'static str],
    /// Properties `$orderby` takes with the advanced query parameters.
    pub sortable_advanced: &'static [&'static str],
    /// Properties `$search` looks in.
    pub searchable: &'static [&'static str],
}

/// `/users`.
pub(super) const USERS: Rules = Rules {
    resource: "User",
    filterable: &[
        "id",
        "userPrincipalName",
        "displayName",
        "mail",
        "accountEnabled",
        "userType",
    ],
    sortable: &["displayName", "userPrincipalName"],
    sortable_advanced: &["createdDateTime"],
    searchable: &["displayName", "userPrincipalName", "mail"],
};

/// `/groups`.
pub(super) const GROUPS: Rules = Rules {
    resource: "Group",
    filterable: &["id", "displayName", "mailEnabled", "securityEnabled"],
    sortable: &["displayName"],
    sortable_advanced: &[],
    searchable: &["displayName"],
};

/// `/servicePrincipals`.
pub(super) const SERVICE_PRINCIPALS: Rules = Rules {
    resource: "ServicePrincipal",
    filterable: &[
        "id",
        "appId",
        "displayName",
        "servicePrincipalType",
        "accountEnabled",
    ],
    sortable: &[],
    sortable_advanced: &["displayName"],
    searchable: &["displayName"],
};

/// A parsed `$orderby`: the property and whether it sorts descending.
pub(super) fn order_by(spec: &str) -> Option<(&str, bool)> {
    let mut words = spec.split_whitespace();
    let property = words.next()?;
    let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return None,
    };
    (words.next().is_none() && !property.contains(',')).then_some((property, descending))
}

/// Orders `items` by the string or boolean `property`, ignoring case.
fn sort(items: &mut [Value], property: &str, descending: bool) {
    let key = |v: &Value| {
        v.as_object()
            .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(property)))
            .map(|(_, x)| x.as_str().map(str::to_lowercase).unwrap_or(x.to_string()))
    };
    items.sort_by(|a, b| {
        let o = key(a).cmp(&key(b));
        if descending { o.reverse() } else { o }
    });
}

impl Req {
    /// Whether the request carries both advanced query parameters.
    pub(super) fn advanced(&self) -> bool {
        self.eventual()
            && self
                .q("count")
                .is_some_and(|c| c.eq_ignore_ascii_case("true"))
    }

    /// Whether the request asks for no `$filter`, `$search` or `$orderby`.
    pub(super) fn plain(&self) -> bool {
        ["filter", "search", "orderby"]
            .iter()
            .all(|k| self.q(k).is_none())
    }

    /// The `items` that pass `$filter` and `$search`, in `$orderby` order, paged; or Graph's
    /// 400 for what the collection (`rules`) does not support as asked.
    pub(super) fn query(&self, rules: &Rules, items: Vec<Value>) -> Response {
        match self.queried(rules, items) {
            Ok(items) => self.paged_list(&items),
            Err(refusal) => refusal,
        }
    }

    fn queried(&self, rules: &Rules, mut items: Vec<Value>) -> Result<Vec<Value>, Response> {
        if let Some(refusal) = self.search_needs_eventual() {
            return Err(refusal);
        }
        let filter = self.filter();
        if !filter.is_empty() {
            let expr = filter::parse(filter)
                .map_err(|e| self.err(400, "BadRequest", &format!("Invalid filter clause: {e}")))?;
            if let Some(p) = expr
                .properties()
                .into_iter()
                .find(|p| !rules.filterable.iter().any(|f| f.eq_ignore_ascii_case(p)))
            {
                return Err(self.err(400, "Request_UnsupportedQuery", &format!("Unsupported or invalid query filter clause specified for property '{p}' of resource '{}'.", rules.resource)));
            }
            if let Some(op) = expr.advanced_operator().filter(|_| !self.advanced()) {
                return Err(self.err(400, "Request_UnsupportedQuery", &format!("Operator '{op}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information")));
            }
            items.retain(|v| expr.matches(v));
        }
        if let Some(search) = self.q("search") {
            let term = search_term(search);
            items.retain(|v| {
                rules.searchable.iter().any(|p| {
                    v[*p]
                        .as_str()
                        .is_some_and(|s| s.to_lowercase().contains(&term))
                })
            });
        }
        if let Some(spec) = self.q("orderby") {
            let sorting = || {
                self.err(
                    400,
                    "Request_UnsupportedQuery",
                    "Sorting not supported for current query.",
                )
            };
            let (property, descending) = order_by(spec).ok_or_else(sorting)?;
            let known = |list: &[&str]| list.iter().any(|p| p.eq_ignore_ascii_case(property));
            let by_default = known(rules.sortable) && filter.is_empty();
            let advanced =
                self.advanced() && (known(rules.sortable) || known(rules.sortable_advanced));
            if !by_default && !advanced {
                return Err(sorting());
            }
            sort(&mut items, property, descending);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn orderby_parses_one_property_and_a_direction() {
        for (spec, expected) in [
            ("displayName", Some(("displayName", false))),
            ("displayName desc", Some(("displayName", true))),
            ("userPrincipalName ASC", Some(("userPrincipalName", false))),
            ("displayName sideways", None),
            ("displayName,mail", None),
            ("", None),
        ] {
            assert_eq!(order_by(spec), expected, "{spec}");
        }
    }

    #[test]
    fn sorting_ignores_case() {
        let mut items = vec![
            json!({"displayName": "bob"}),
            json!({"displayName": "Alice"}),
            json!({"displayName": "Carol"}),
        ];
        sort(&mut items, "displayName", false);
        let names: Vec<&str> = items
            .iter()
            .map(|v| v["displayName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Alice", "bob", "Carol"]);
        sort(&mut items, "displayName", true);
        assert_eq!(items[0]["displayName"], "Carol");
    }
}

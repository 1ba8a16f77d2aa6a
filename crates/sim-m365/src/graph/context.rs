//! `@odata.context` as Graph shapes it: `{service}/$metadata#{set}` for a collection,
//! `#{set}/$entity` for one entity, with the `$select`ed properties in parentheses after the set
//! (`#users(id,displayName)/$entity`). A navigation to members names their set
//! (`directoryObjects`, or `users` after a `graph.user` cast); app role assignments keep their
//! parent (`servicePrincipals('id')/appRoleAssignments`).
//!
//! The simulator's own base URL stands in for `https://graph.microsoft.com` in the service
//! root (`{base}/v1.0/$metadata#users`), as it does in every link it gives (`@odata.nextLink`,
//! `@odata.deltaLink`): a client follows what it is given and never has to rewrite a host.

/// The set a path (segments after `/v1.0/`) answers from, and whether it is one entity.
fn set_of(segments: &[&str]) -> (String, bool) {
    let cast = |s: &str| match s.trim_start_matches("microsoft.") {
        "graph.group" => "groups",
        _ => "users",
    };
    match segments {
        [sp, ..] if sp.starts_with("servicePrincipals(") => ("servicePrincipals".into(), true),
        ["roleManagement", "directory", set] => (format!("roleManagement/directory/{set}"), false),
        ["roleManagement", "directory", set, _] => {
            (format!("roleManagement/directory/{set}"), true)
        }
        ["servicePrincipals", id, nav] => (format!("servicePrincipals('{id}')/{nav}"), false),
        ["groups", _, "members" | "transitiveMembers"] => ("directoryObjects".into(), false),
        ["groups", _, "members" | "transitiveMembers", type_cast] => {
            (cast(type_cast).into(), false)
        }
        [set, function] if is_delta(function) => ((*set).into(), false),
        [set, _] => ((*set).into(), true),
        [set, ..] => ((*set).into(), false),
        [] => (String::new(), false),
    }
}

/// Whether a segment calls the delta function (`delta`, `delta()`, `microsoft.graph.delta()`).
pub(super) fn is_delta(segment: &str) -> bool {
    matches!(
        segment.trim_start_matches("microsoft.graph."),
        "delta" | "delta()"
    )
}

/// The `@odata.context` of the answer to `path` under `service` (`{base}/v1.0`), with the
/// `$select` list if any.
pub(super) fn context(service: &str, path: &str, select: Option<&str>) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (set, entity) = set_of(&segments);
    let selected = select
        .map(|s| {
            let list: Vec<&str> = s.split(',').map(str::trim).collect();
            format!("({})", list.join(","))
        })
        .unwrap_or_default();
    let entity = if entity { "/$entity" } else { "" };
    format!("{service}/$metadata#{set}{selected}{entity}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[rustfmt::skip]
    fn contexts_follow_graph() {
        let g = "https://graph.microsoft.com/v1.0";
        for (path, select, expected) in [
            ("users", None, "#users"),
            ("users", Some("id, displayName"), "#users(id,displayName)"),
            ("users/ada@contoso.com", None, "#users/$entity"),
            ("users/ada@contoso.com", Some("displayName"), "#users(displayName)/$entity"),
            ("users/delta()", Some("displayName"), "#users(displayName)"),
            ("groups/microsoft.graph.delta()", None, "#groups"),
            ("groups/g1/members", None, "#directoryObjects"),
            ("groups/g1/transitiveMembers/microsoft.graph.user", None, "#users"),
            ("groups/g1/members/graph.group", None, "#groups"),
            ("servicePrincipals(appId='x')", None, "#servicePrincipals/$entity"),
            ("servicePrincipals/s1/appRoleAssignments", None, "#servicePrincipals('s1')/appRoleAssignments"),
            ("roleManagement/directory/roleDefinitions", None, "#roleManagement/directory/roleDefinitions"),
            ("roleManagement/directory/roleDefinitions/r1", None, "#roleManagement/directory/roleDefinitions/$entity"),
            ("organization", None, "#organization"),
            ("domains/contoso.com", None, "#domains/$entity"),
        ] {
            assert_eq!(context(g, path, select), format!("{g}/$metadata{expected}"), "{path}");
        }
    }
}

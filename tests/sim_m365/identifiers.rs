//! The operator's table of Microsoft's identifiers against the simulator's own, each written
//! separately from Microsoft Learn ("Microsoft Graph permissions reference", "Microsoft Entra
//! built-in roles"): a wrong GUID in either fails here, by name.

use exo_operator::microsoft::graph::roles;
use exo_operator::microsoft::permissions::{self, ALL, resource_app_id};
use exo_sim_m365::ids;

#[test]
fn resource_application_ids_agree() {
    assert_eq!(permissions::GRAPH_APP_ID, ids::GRAPH_APP_ID);
    assert_eq!(permissions::EXCHANGE_APP_ID, ids::EXCHANGE_APP_ID);
    assert_eq!(permissions::MANAGEMENT_APP_ID, ids::MANAGEMENT_APP_ID);
}

#[test]
fn every_permission_the_operator_asks_for_has_the_simulators_app_role_id() {
    for p in ALL {
        let theirs = ids::permission(p.name)
            .unwrap_or_else(|| panic!("the simulator does not know {}", p.name));
        assert_eq!(
            (resource_app_id(p.resource), p.id),
            theirs,
            "{}: (resource app id, app role id) of the operator vs the simulator",
            p.name
        );
        assert_eq!(ids::permission_name(p.id), Some(p.name), "{}", p.id);
    }
}

#[test]
fn directory_role_template_ids_agree() {
    let name_of = |template: &str| {
        ids::ROLES
            .iter()
            .find(|(id, _)| *id == template)
            .map(|(_, name)| *name)
    };
    assert_eq!(
        name_of(roles::EXCHANGE_ADMINISTRATOR),
        Some("Exchange Administrator")
    );
    assert_eq!(
        name_of(roles::GLOBAL_ADMINISTRATOR),
        Some("Global Administrator")
    );
}

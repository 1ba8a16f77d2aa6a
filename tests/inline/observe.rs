//! `managementPolicy: Observe`: a tenant whose mail flow was set up by hand (the objects the
//! account wants, under their names, with no ownership marker) is read and reported, never
//! written; switched to `Manage`, what is there is adopted (marked, nothing created twice);
//! switched back, nothing changes; deleted, the adopted objects stay.

use serde_json::{Value, json};

use super::env::{Env, is, reason};
use super::{NORTHWIND, exchange, mail_flow, names, northwind, world};
use exo_sim_m365::tenants::DEMO_CLIENT_ID;

/// The kinds of Exchange objects and the field of each that holds the ownership marker.
const MARKED: [(&str, Option<&str>); 4] = [
    ("TransportRule", Some("Comments")),
    ("OutboundConnector", Some("Comment")),
    ("InboundConnector", Some("Comment")),
    ("DistributionGroup", None),
];

/// The tenant's mail flow as a person left it: the objects of a first account, orphaned, with
/// their markers taken off.
async fn set_up_by_hand(env: &Env) -> Value {
    northwind(env, json!({"mode": "Automatic"}), "Correct").await;
    env.wait_ready("northwind").await;
    env.merge_account("northwind", json!({"spec": {"deletionPolicy": "Orphan"}}))
        .await;
    env.delete_account("northwind").await;
    let state = exchange(env, NORTHWIND).await;
    for (kind, field) in MARKED {
        let Some(field) = field else { continue };
        for name in names(&state, kind) {
            let path = format!("/tenants/{NORTHWIND}/exchange/{kind}/{name}");
            env.control(&path, json!({ field: "" })).await;
        }
    }
    exchange(env, NORTHWIND).await
}

/// The adopting account: the same mail flow, observed.
async fn adopter(env: &Env, policy: &str) {
    env.create(env.point_at_simulator(json!({
        "apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
        "metadata": {"name": "adopter"},
        "spec": {
            "tenant": NORTHWIND, "mode": "Inline", "managementPolicy": policy,
            "application": {"clientId": DEMO_CLIENT_ID, "credentials": {"secretName": "northwind-app"}},
            "inline": {
                "direction": "Inbound",
                "roleAssignment": {"mode": "Automatic"},
                "mailFlow": {"namePrefix": "exo", "driftPolicy": "Correct"},
            },
        },
    })))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observed_tenant_is_reported_then_adopted_without_creating_anything_twice() {
    let env = Env::start(world(|_| {})).await;
    env.consent(NORTHWIND).await;
    let by_hand = set_up_by_hand(&env).await;
    let objects: usize = MARKED.iter().map(|(k, _)| names(&by_hand, k).len()).sum();

    // Observed: Ready, the markers it would set planned, the objects adoptable, nothing
    // written (the tenant as it was after several looks).
    adopter(&env, "Observe").await;
    let esa = env
        .wait_account("adopter", "Ready Observing", |e| {
            reason(e, "Ready", "Observing")
                && e.status
                    .as_ref()
                    .and_then(|s| s.mail_flow.as_ref())
                    .is_some_and(|m| !m.adoptable.is_empty())
        })
        .await;
    let status = esa.status.clone().unwrap();
    assert!(is(&esa, "Ready"));
    assert_eq!(mail_flow(&esa).adoptable.len(), objects, "{status:#?}");
    assert!(mail_flow(&esa).objects.is_empty(), "{status:#?}");
    let planned: Vec<String> = status
        .planned_changes
        .iter()
        .map(|c| format!("{} {} {:?}", c.action, c.object, c.fields))
        .collect();
    assert_eq!(
        planned.len(),
        4,
        "a marker for each connector and rule (and the rules' routing token, the account's own): {planned:#?}"
    );
    assert!(
        planned.iter().all(|p| p.starts_with("change ")),
        "{planned:#?}"
    );
    assert_eq!(
        super::env::condition(&esa, "MailFlowConfigured"),
        Some(("False".to_string(), "ChangesPlanned".to_string())),
        "{status:#?}"
    );
    super::request_check(&env, "adopter").await;
    env.settle().await;
    assert_eq!(
        exchange(&env, NORTHWIND).await,
        by_hand,
        "observing writes nothing"
    );

    // Managed: adopted (marked), nothing created twice, Ready.
    env.merge_account("adopter", json!({"spec": {"managementPolicy": "Manage"}}))
        .await;
    let esa = env
        .wait_account("adopter", "Ready with the objects adopted", |e| {
            reason(e, "Ready", "Ready")
                && e.status
                    .as_ref()
                    .and_then(|s| s.mail_flow.as_ref())
                    .is_some_and(|m| m.adopted.len() == objects)
        })
        .await;
    assert!(mail_flow(&esa).adoptable.is_empty());
    assert!(esa.status.as_ref().unwrap().planned_changes.is_empty());
    let managed = exchange(&env, NORTHWIND).await;
    for (kind, field) in MARKED {
        assert_eq!(
            names(&managed, kind),
            names(&by_hand, kind),
            "{kind}: none made twice"
        );
        let Some(field) = field else { continue };
        for name in names(&managed, kind) {
            let marker = managed["exchange"][kind][&name][field]
                .as_str()
                .unwrap_or("");
            assert!(
                marker.contains(esa.metadata.uid.as_deref().unwrap()),
                "{kind} {name}: {marker}"
            );
        }
    }

    // Observed again: nothing would change, nothing changes.
    env.merge_account("adopter", json!({"spec": {"managementPolicy": "Observe"}}))
        .await;
    let esa = env
        .wait_account("adopter", "observing again", |e| {
            reason(e, "Ready", "Observing")
        })
        .await;
    assert!(
        esa.status.as_ref().unwrap().planned_changes.is_empty(),
        "{:#?}",
        esa.status
    );
    assert_eq!(exchange(&env, NORTHWIND).await, managed);

    // Deleted (deletionPolicy Delete) under Manage: what it adopted stays in the tenant.
    env.merge_account("adopter", json!({"spec": {"managementPolicy": "Manage"}}))
        .await;
    env.wait_account("adopter", "managing", |e| reason(e, "Ready", "Ready"))
        .await;
    env.delete_account("adopter").await;
    let left = exchange(&env, NORTHWIND).await;
    for (kind, _) in MARKED {
        assert_eq!(
            names(&left, kind),
            names(&by_hand, kind),
            "{kind}: adopted, kept"
        );
    }
}

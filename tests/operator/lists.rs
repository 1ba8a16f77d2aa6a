//! SyncTargetLists: Selected to All and back, a list applied before its account, a list
//! resolved while the grant is confirmed, and the 100-user limit.

use std::time::Duration;

use exo_sim_m365::SimOptions;
use serde_json::json;

use super::env::{Env, is, reason};
use super::{contoso_list, list_ready_reason, select, synced_users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selected_to_all_and_back_without_a_new_grant() {
    let env = Env::start(Env::fast()).await;
    env.consent("contoso.com").await;
    env.apply_example("api-all-users.yaml").await;
    env.wait_account("contoso", "Ready", |e| {
        is(e, "Ready") && e.status.as_ref().unwrap().sync.as_ref().unwrap().users == 4
    })
    .await;
    contoso_list(
        &env,
        "contoso-few",
        json!({"users": ["ada@contoso.com", "nobody@contoso.com"], "groups": [{"namePrefix": "Research"}]}),
    )
    .await;
    let calls = env.m365.count("/oauth2/v2.0/token");
    // Research → alan and, nested (a cycle), Engineering → ada and grace; ada is also listed.
    select(&env, "contoso-few").await;
    let esa = env
        .wait_account("contoso", "Selected", |e| {
            synced_users(e) == Some(3)
                && is(e, "Ready")
                && e.status.as_ref().unwrap().observed_generation == Some(2)
        })
        .await;
    assert_eq!(esa.status.unwrap().sync.unwrap().groups, 1);
    let stl = env
        .wait_for(env.lists(), "contoso-few", "resolved", |l| {
            l.status.as_ref().is_some_and(|s| !s.unresolved.is_empty())
        })
        .await;
    let st = stl.status.unwrap();
    assert_eq!(st.unresolved[0].entry, "nobody@contoso.com");
    assert_eq!(st.unresolved[0].reason, "UserNotFound");
    assert!(
        st.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.reason == "EntriesUnresolved")
    );
    env.merge_account(
        "contoso",
        json!({"spec": {"sync": {"scope": "All", "targetListRef": null}}}),
    )
    .await;
    env.wait_account("contoso", "All again", |e| {
        e.status.as_ref().unwrap().observed_generation == Some(3)
            && synced_users(e) == Some(4)
            && is(e, "Ready")
    })
    .await;
    assert!(
        env.m365.count("/oauth2/v2.0/token") <= calls + 1,
        "no new grant was needed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_applied_before_its_account_waits_a_grace_then_follows_the_account() {
    let env = Env::start(Env::fast()).await;
    env.consent("contoso.com").await;
    contoso_list(&env, "early", json!({"users": ["ada@contoso.com"]})).await;

    // Within the grace (5 s) nothing is written: the account usually follows at once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(env.lists().get("early").await.unwrap().status.is_none());
    let stl = env
        .wait_for(env.lists(), "early", "the missing account", |l| {
            list_ready_reason(l) == "False:ServiceAccountNotFound"
        })
        .await;
    let ready = stl.status.unwrap().conditions;
    assert!(
        ready
            .iter()
            .any(|c| c.type_ == "Stalled" && c.status == "True")
    );

    // The account appears, selecting everyone: the list says it is not selected.
    env.apply_example("api-all-users.yaml").await;
    env.wait_for(env.lists(), "early", "not selected", |l| {
        list_ready_reason(l) == "False:NotSelected"
    })
    .await;

    // The account selects it: resolved and Ready.
    select(&env, "early").await;
    let stl = env
        .wait_for(env.lists(), "early", "resolved", |l| {
            list_ready_reason(l) == "True:Resolved"
        })
        .await;
    assert_eq!(stl.status.unwrap().user_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_resolved_while_grants_are_confirmed_is_written_only_once_they_hold() {
    let env = Env::start(Env::fast()).await;
    env.consent("contoso.com").await;
    // The token carries every role, but the tenant refuses to show the app's assignments.
    env.fault(json!({"path": "/appRoleAssignments", "status": 403}))
        .await;
    contoso_list(&env, "few", json!({"users": ["ada@contoso.com"]})).await;
    env.apply_example("api-all-users.yaml").await;
    select(&env, "few").await;
    // Refused for the Selected spec (a first reconcile may have refused the All spec already).
    env.wait_account("contoso", "the grant refused", |e| {
        reason(e, "Authorized", "ConsentRequired")
            && e.status.as_ref().and_then(|s| s.observed_generation) == e.metadata.generation
    })
    .await;
    // The list was looked up in the tenant at the same time, but nothing it found was kept.
    assert!(env.m365.count("GET /v1.0/users/ada@contoso.com") >= 1);
    let stl = env
        .wait_for(env.lists(), "few", "waiting for the grant", |l| {
            list_ready_reason(l) == "False:WaitingForGrant"
        })
        .await;
    let status = stl.status.unwrap();
    assert_eq!((status.user_count, status.resolved_users.len()), (0, 0));
    assert!(status.last_resolved_time.is_none());

    env.control_delete("/faults", json!({})).await;
    let stl = env
        .wait_for(env.lists(), "few", "resolved", |l| {
            list_ready_reason(l) == "True:Resolved"
        })
        .await;
    assert_eq!(stl.status.unwrap().user_count, 1);
    env.wait_ready("contoso").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_100_users_is_refused_and_the_last_good_list_is_kept() {
    let mut world = exo_sim_m365::tenants::demo();
    world.tenants[0].generate = Some(exo_sim_m365::Generate {
        users: 150,
        groups: 1,
        seed: 9,
    });
    let env = Env::start(SimOptions {
        tenants: world,
        ..Env::fast()
    })
    .await;
    env.consent("contoso.com").await;
    env.apply_example("api-all-users.yaml").await;
    contoso_list(&env, "big", json!({"users": ["ada@contoso.com"]})).await;
    select(&env, "big").await;
    env.wait_account("contoso", "1 user", |e| {
        is(e, "Ready") && synced_users(e) == Some(1)
    })
    .await;
    env.merge_list(
        "big",
        json!({"spec": {"groups": [{"namePrefix": "Generated"}]}}),
    )
    .await;
    let esa = env
        .wait_reason("contoso", "DirectorySynced", "LimitExceeded")
        .await;
    assert!(is(&esa, "Stalled"));
    assert_eq!(
        esa.status.unwrap().sync.unwrap().users,
        1,
        "the last good list is kept"
    );
    let stl = env.lists().get("big").await.unwrap().status.unwrap();
    assert_eq!(stl.user_count, 1);
    assert!(
        stl.conditions
            .iter()
            .any(|c| c.type_ == "Resolved" && c.reason == "LimitExceeded")
    );
}

//! The email-security service an account names: an account whose service is missing stalls
//! (nothing done in the tenant) and becomes Ready once the service is created, without a
//! restart; a ClusterEmailSecurityService serves accounts of two namespaces; a service's
//! status counts the accounts that name it.

use exo_api::{ClusterEmailSecurityService, EmailSecurityService};
use exo_operator::controller::run::Scope;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};
use std::time::Duration;

use super::env::{Env, is, reason};

/// An API-mode account `name` of `tenant` naming the service `kind`/`service`.
fn account(name: &str, tenant: &str, kind: &str, service: &str) -> Value {
    json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
           "metadata": {"name": name},
           "spec": {"tenant": tenant, "mode": "Api",
                    "serviceRef": {"kind": kind, "name": service}}})
}

/// The Secret `app` with the demo application's client secret, in `namespace`.
fn app_secret(namespace: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app", "namespace": namespace},
           "stringData": {"client-secret": exo_sim_m365::tenants::DEMO_SECRET}})
}

/// The message of condition `type_` of an account.
fn message(esa: &exo_api::ExchangeServiceAccount, type_: &str) -> String {
    let conditions = &esa.status.as_ref().unwrap().conditions;
    let found = conditions.iter().find(|c| c.type_ == type_).unwrap();
    found.message.clone()
}

/// How many accounts a service's status counts, and whether it is Ready.
fn counted(status: Option<&exo_api::EmailSecurityServiceStatus>) -> (i64, bool) {
    status.map_or((0, false), |s| {
        let ready = s
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        (s.accounts, ready)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_whose_service_is_missing_stalls_until_it_is_created() {
    let env = Env::start(Env::fast()).await;
    env.create(app_secret(env.ns())).await;
    env.consent("contoso.com").await;
    let calls = env.m365.count("/oauth2/v2.0/token");
    env.create(account(
        "contoso",
        "contoso.com",
        "EmailSecurityService",
        "later",
    ))
    .await;
    let stalled = env
        .wait_account("contoso", "ServiceNotFound", |e| {
            reason(e, "Ready", "ServiceNotFound") && reason(e, "Stalled", "ServiceNotFound")
        })
        .await;
    assert!(is(&stalled, "Stalled") && !is(&stalled, "Ready"));
    let message = message(&stalled, "Ready");
    assert!(
        message.contains("EmailSecurityService/later")
            && message.contains(&format!("namespace {}", env.ns())),
        "{message}"
    );
    env.settle().await;
    assert_eq!(
        env.m365.count("/oauth2/v2.0/token"),
        calls,
        "nothing is asked of Microsoft without a service"
    );
    // The service appears: the account is reconciled again by the watch, no restart.
    env.create(env.sim_service("later")).await;
    env.wait_ready("contoso").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_account_whose_service_has_no_mail_flow_stalls() {
    let env = Env::start(Env::fast()).await;
    let mut service = env.sim_service("no-mail");
    service["spec"]["mailFlow"] = Value::Null;
    env.create(service).await;
    let mut inline = account(
        "northwind",
        "northwind.onmicrosoft.com",
        "EmailSecurityService",
        "no-mail",
    );
    inline["spec"]["mode"] = json!("Inline");
    inline["spec"]["inline"] = json!({"direction": "Inbound"});
    env.create(inline).await;
    let stalled = env
        .wait_account("northwind", "ServiceIncomplete", |e| {
            reason(e, "Stalled", "ServiceIncomplete")
        })
        .await;
    let message = message(&stalled, "Ready");
    assert!(message.contains("spec.mailFlow"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_status_counts_its_accounts() {
    let env = Env::start(Env::fast()).await;
    let services: Api<EmailSecurityService> = Api::default_namespaced(env.client.clone());
    // The environment's service `sim` names Secret `app`, which does not exist yet.
    env.wait_for(services.clone(), "sim", "not ready, no account", |s| {
        counted(s.status.as_ref()) == (0, false)
            && s.status.as_ref().is_some_and(|st| {
                st.conditions
                    .iter()
                    .any(|c| c.type_ == "Stalled" && c.reason == "CredentialSecretNotFound")
            })
    })
    .await;
    env.create(app_secret(env.ns())).await;
    env.create(env.sim_service("other")).await;
    for (name, service) in [("a", "sim"), ("b", "sim"), ("c", "other")] {
        env.create(account(
            name,
            &format!("{name}.example.com"),
            "EmailSecurityService",
            service,
        ))
        .await;
    }
    env.wait_for(services.clone(), "sim", "2 accounts, Ready", |s| {
        counted(s.status.as_ref()) == (2, true)
    })
    .await;
    env.wait_for(services.clone(), "other", "1 account", |s| {
        counted(s.status.as_ref()) == (1, true)
    })
    .await;
    // An account moves to the other service: both counts follow.
    env.merge_account("b", json!({"spec": {"serviceRef": {"name": "other"}}}))
        .await;
    env.wait_for(services.clone(), "sim", "1 account", |s| {
        counted(s.status.as_ref()).0 == 1
    })
    .await;
    env.wait_for(services.clone(), "other", "2 accounts", |s| {
        counted(s.status.as_ref()).0 == 2
    })
    .await;
    // A reconcile that changes nothing writes nothing.
    env.settle().await;
    let before = env.writes();
    env.settle().await;
    assert_eq!(env.writes(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_service_serves_accounts_of_two_namespaces() {
    let mut env = Env::start(Env::fast()).await;
    let first = env.ns().to_string();
    let second = format!("{first}-b");
    env.cluster.create_namespace(&second).await;
    env.stop_operator().await;
    let scope = Scope {
        namespaces: vec![first.clone(), second.clone()],
    };
    env.start_operator_in(std::time::Duration::from_millis(300), scope)
        .await;
    // Its application's Secret is read in the cluster resource namespace (the test's).
    env.create(app_secret(&first)).await;
    let name = format!("{first}-shared");
    let mut shared = env.sim_service(&name);
    shared["kind"] = json!("ClusterEmailSecurityService");
    env.create(shared).await;
    env.consent("contoso.com").await;
    env.consent("northwind.onmicrosoft.com").await;
    let kind = "ClusterEmailSecurityService";
    env.create(account("contoso", "contoso.com", kind, &name))
        .await;
    let mut other = account("northwind", "northwind.onmicrosoft.com", kind, &name);
    other["metadata"]["namespace"] = json!(second);
    env.create(other).await;
    env.wait_ready("contoso").await;
    let in_second: Api<exo_api::ExchangeServiceAccount> =
        Api::namespaced(env.client.clone(), &second);
    env.wait_for(in_second.clone(), "northwind", "Ready", |e| is(e, "Ready"))
        .await;
    // An operator scoped to namespaces (as every test's is, sharing a real server) leaves the
    // cluster-scoped object's status to one that sees every namespace.
    let cluster: Api<ClusterEmailSecurityService> = Api::all(env.client.clone());
    let service = cluster.get(&name).await.unwrap();
    assert!(service.status.is_none(), "{:?}", service.status);
    env.delete_account("contoso").await;
    // The second namespace's account is released by this operator before its namespace goes
    // (a namespace deleted with an account still holding its finalizer stays Terminating).
    let params = DeleteParams::default();
    in_second.delete("northwind", &params).await.unwrap();
    crate::env::until(
        crate::env::TIMEOUT,
        Duration::from_millis(100),
        async || match in_second.get_opt("northwind").await.unwrap() {
            None => Ok(()),
            Some(_) => Err("northwind to be released and gone"),
        },
    )
    .await;
    cluster
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    let _ = namespaces.delete(&second, &DeleteParams::default()).await;
}

//! The status of EmailSecurityServices and ClusterEmailSecurityServices, written by their own
//! small reconciler: `Ready` when the spec is usable (the application's credential Secret
//! exists), and how many ExchangeServiceAccounts name the service (from the accounts' caches).
//! The accounts themselves read their service on each reconcile ([`super::service_account::service`]).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::conditions::{self, Summary};
use super::context::Context;
use super::error::{Error, Result};
use super::report;
use exo_api::email_security_service::{
    ClusterEmailSecurityService, EmailSecurityService, EmailSecurityServiceSpec,
    EmailSecurityServiceStatus, ServiceKind,
};
use exo_api::exchange_service_account::ExchangeServiceAccount;

/// How often a service is looked at again without a change (its Secret is watched too).
const RECHECK: Duration = Duration::from_secs(10 * 60);

/// What was found of a service's world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceObservation {
    /// The application's credential Secret exists (in `namespace`).
    pub credential_found: bool,
    /// Namespace of the service's Secrets and ConfigMaps.
    pub namespace: String,
    /// Accounts that name the service.
    pub accounts: i64,
    /// The ingestion endpoint's answer to a signed health probe: `None` without ingestion,
    /// else `Ok`, or the reason and message of why it does not answer or refuses.
    pub ingestion: Option<Result<(), (String, String)>>,
}

/// The condition saying whether the ingestion endpoint answers a signed probe.
pub const INGESTION_REACHABLE: &str = "IngestionReachable";

/// The status of a service of `generation` with `previous` status, from what was found. Pure.
pub fn status(
    spec: &EmailSecurityServiceSpec,
    generation: Option<i64>,
    previous: Option<&EmailSecurityServiceStatus>,
    observed: &ServiceObservation,
    now: jiff::Timestamp,
) -> EmailSecurityServiceStatus {
    let mut status = previous.cloned().unwrap_or_default();
    status.observed_generation = generation;
    status.accounts = observed.accounts;
    let now = Time(now);
    let secret = &spec.application.credentials.secret_name;
    let missing = format!(
        "The credentials Secret {secret} of spec.application was not found in namespace {}; create it with the application's client secret or certificate.",
        observed.namespace
    );
    let summary = if observed.credential_found {
        Summary::Ready {
            reason: "Usable",
            message: "The application's credential Secret exists; accounts can use the service.",
        }
    } else {
        Summary::Stalled {
            reason: "CredentialSecretNotFound",
            message: &missing,
            reconciling_message: "",
        }
    };
    conditions::set_summary(&mut status.conditions, summary, generation, &now);
    match &observed.ingestion {
        None => status.conditions.retain(|c| c.type_ != INGESTION_REACHABLE),
        Some(Ok(())) => {
            conditions::set(
                &mut status.conditions,
                INGESTION_REACHABLE,
                conditions::Status::True,
                "Answered",
                "The ingestion endpoint answered a signed health probe and accepted its signature.",
                generation,
                &now,
            );
        }
        Some(Err((reason, message))) => {
            conditions::set(
                &mut status.conditions,
                INGESTION_REACHABLE,
                conditions::Status::False,
                reason,
                message,
                generation,
                &now,
            );
        }
    }
    conditions::sort_ready_first(&mut status.conditions);
    status
}

/// How many accounts of `accounts` name the service `kind`/`name` (in `namespace` for a
/// namespaced one).
pub fn count<'a>(
    accounts: impl IntoIterator<Item = &'a ExchangeServiceAccount>,
    kind: ServiceKind,
    namespace: Option<&str>,
    name: &str,
) -> i64 {
    accounts
        .into_iter()
        .filter(|esa| {
            let r = &esa.spec.service_ref;
            r.kind == kind
                && r.name == name
                && (kind == ServiceKind::ClusterEmailSecurityService
                    || esa.namespace().as_deref() == namespace)
        })
        .count() as i64
}

/// The Secrets a service names (they wake it and the accounts that use it).
pub fn referenced_secrets(spec: &EmailSecurityServiceSpec) -> Vec<String> {
    use exo_api::exchange_service_account::CaBundleKind;
    let mut names = vec![spec.application.credentials.secret_name.clone()];
    let cas = [
        spec.endpoints.as_ref().and_then(|e| e.ca_bundle.as_ref()),
        spec.ingestion.as_ref().and_then(|i| i.ca_bundle.as_ref()),
    ];
    for ca in cas.into_iter().flatten() {
        if ca.kind == CaBundleKind::Secret {
            names.push(ca.name.clone());
        }
    }
    if let Some(r) = spec
        .ingestion
        .as_ref()
        .and_then(|i| i.credentials_secret_ref.as_ref())
    {
        names.push(r.name.clone());
    }
    names
}

/// What a service's reconcile finds: its credential Secret and the accounts naming it.
async fn observe(
    spec: &EmailSecurityServiceSpec,
    kind: ServiceKind,
    namespace: &str,
    name: &str,
    ctx: &Context,
) -> Result<ServiceObservation> {
    ctx.accounts_ready().await;
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let credential_found = secrets
        .get_metadata_opt(&spec.application.credentials.secret_name)
        .await?
        .is_some();
    let accounts = ctx.accounts();
    let own_namespace = (kind == ServiceKind::EmailSecurityService).then_some(namespace);
    let ingestion = match &spec.ingestion {
        None => None,
        Some(ingestion) => Some(probe_now_and_then(ingestion, kind, name, namespace, ctx).await?),
    };
    Ok(ServiceObservation {
        ingestion,
        credential_found,
        namespace: namespace.to_string(),
        accounts: count(
            accounts.iter().map(AsRef::as_ref),
            kind,
            own_namespace,
            name,
        ),
    })
}

/// How long an ingestion that answered is taken to answer still: the reconciler runs on every
/// change of one of the service's accounts, which must not each cost a probe.
const PROBE_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The probe's outcome, probing only when the last success is older than [`PROBE_INTERVAL`]
/// or was for another ingestion spec or credential version (a failing ingestion is probed on
/// every look, so that a fix shows at once).
async fn probe_now_and_then(
    ingestion: &exo_api::email_security_service::Ingestion,
    kind: ServiceKind,
    name: &str,
    namespace: &str,
    ctx: &Context,
) -> Result<Result<(), (String, String)>> {
    let key = format!("{kind:?}/{namespace}/{name}");
    // The spec and the version of its credential Secret: a rotated credential is probed at once.
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let credential = match &ingestion.credentials_secret_ref {
        Some(r) => secrets
            .get_metadata_opt(&r.name)
            .await?
            .and_then(|m| m.metadata.resource_version),
        None => None,
    };
    let spec = format!(
        "{}@{}",
        serde_json::to_string(ingestion).unwrap_or_default(),
        credential.unwrap_or_default()
    );
    if ctx.answered_recently(&key, &spec, PROBE_INTERVAL) {
        return Ok(Ok(()));
    }
    let outcome = probe(ingestion, kind, name, namespace, ctx).await?;
    ctx.record_probe(&key, &spec, outcome.is_ok());
    Ok(outcome)
}

/// A signed health probe of the service's ingestion endpoint.
async fn probe(
    ingestion: &exo_api::email_security_service::Ingestion,
    kind: ServiceKind,
    name: &str,
    namespace: &str,
    ctx: &Context,
) -> Result<Result<(), (String, String)>> {
    use super::service_account::delivery::{ingestion_client, message_id};
    let named = format!("{kind:?}/{name}");
    let client = match ingestion_client(ingestion, &named, namespace, ctx).await? {
        Ok(c) => c,
        Err(problem) => return Ok(Err((problem.reason.to_string(), problem.message))),
    };
    Ok(client
        .health(&message_id(name, "health"))
        .await
        .map_err(|e| {
            let message =
                format!("The ingestion endpoint did not answer the probe as expected: {e}.");
            (e.reason().to_string(), message)
        }))
}

/// Reconciles one EmailSecurityService: writes its status when it changed.
pub async fn reconcile(service: Arc<EmailSecurityService>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = service.namespace().unwrap_or_default();
    let api: Api<EmailSecurityService> = Api::namespaced(ctx.client.clone(), &namespace);
    let spec = &service.spec;
    let kind = ServiceKind::EmailSecurityService;
    reconcile_service(&api, &*service, spec, kind, &namespace, &ctx).await
}

/// Reconciles one ClusterEmailSecurityService: writes its status when it changed.
pub async fn reconcile_cluster(
    service: Arc<ClusterEmailSecurityService>,
    ctx: Arc<Context>,
) -> Result<Action> {
    let namespace = ctx.settings.cluster_resource_namespace.clone();
    let api: Api<ClusterEmailSecurityService> = Api::all(ctx.client.clone());
    let spec = &service.spec.0;
    let kind = ServiceKind::ClusterEmailSecurityService;
    reconcile_service(&api, &*service, spec, kind, &namespace, &ctx).await
}

/// The reconcile of a service of either kind, whose Secrets are in `namespace`.
async fn reconcile_service<K>(
    api: &Api<K>,
    service: &K,
    spec: &EmailSecurityServiceSpec,
    kind: ServiceKind,
    namespace: &str,
    ctx: &Context,
) -> Result<Action>
where
    K: kube::Resource<DynamicType = ()>
        + kube::core::object::HasStatus<Status = EmailSecurityServiceStatus>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let observed = observe(spec, kind, namespace, &service.name_any(), ctx).await?;
    let new = status(
        spec,
        service.meta().generation,
        service.status(),
        &observed,
        jiff::Timestamp::now(),
    );
    report::write_status(api, service, &new, report::Precondition::None).await?;
    Ok(Action::requeue(RECHECK))
}

/// Retry after a failed service reconcile.
pub fn error_policy<K>(_service: Arc<K>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(reason = error.reason(), error = %error, "service reconcile failed");
    // A service's reconcile only reads Kubernetes and writes its status: retried soon (5 to
    // 10 s, jittered), so that a conflict at start-up does not hold its status for long.
    let delay = crate::microsoft::retry::Backoff::RECONCILE.delay(1);
    Action::requeue(error.retry_after().unwrap_or(delay))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> EmailSecurityServiceSpec {
        serde_json::from_value(json!({
            "application": {"clientId": "11111111-2222-3333-4444-555555555555",
                            "credentials": {"secretName": "service-app"}},
            "endpoints": {"caBundle": {"kind": "Secret", "name": "sim-ca"}},
        }))
        .unwrap()
    }

    fn account(namespace: &str, kind: &str, name: &str) -> ExchangeServiceAccount {
        serde_json::from_value(json!({
            "apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
            "metadata": {"name": "a", "namespace": namespace},
            "spec": {"tenant": "contoso.com", "mode": "Api",
                     "serviceRef": {"kind": kind, "name": name}},
        }))
        .unwrap()
    }

    #[test]
    fn accounts_are_counted_by_kind_namespace_and_name() {
        let all = [
            account("a", "EmailSecurityService", "s"),
            account("b", "EmailSecurityService", "s"),
            account("a", "EmailSecurityService", "other"),
            account("a", "ClusterEmailSecurityService", "s"),
            account("b", "ClusterEmailSecurityService", "s"),
        ];
        let ess = ServiceKind::EmailSecurityService;
        let cess = ServiceKind::ClusterEmailSecurityService;
        assert_eq!(count(&all, ess, Some("a"), "s"), 1);
        assert_eq!(count(&all, cess, None, "s"), 2);
        assert_eq!(count(&all, cess, None, "other"), 0);
    }

    #[test]
    fn ready_when_the_credential_exists_and_stalled_otherwise() {
        let now = jiff::Timestamp::now();
        let found = ServiceObservation {
            credential_found: true,
            namespace: "operators".into(),
            accounts: 2,
            ingestion: None,
        };
        let ready = status(&spec(), Some(3), None, &found, now);
        assert_eq!(ready.accounts, 2);
        assert_eq!(ready.observed_generation, Some(3));
        assert!(conditions::is_true(&ready.conditions, "Ready"));
        assert_eq!(ready.conditions[0].type_, "Ready");
        // Nothing changed: the same status, so nothing is written.
        let later = now + jiff::SignedDuration::from_secs(60);
        assert_eq!(status(&spec(), Some(3), Some(&ready), &found, later), ready);
        let missing = ServiceObservation {
            credential_found: false,
            ..found
        };
        let stalled = status(&spec(), Some(3), Some(&ready), &missing, later);
        assert!(conditions::is_true(&stalled.conditions, "Stalled"));
        let ready_cond = conditions::get(&stalled.conditions, "Ready").unwrap();
        assert_eq!(ready_cond.reason, "CredentialSecretNotFound");
        assert!(
            ready_cond
                .message
                .contains("service-app of spec.application was not found in namespace operators")
        );
    }

    #[test]
    fn a_service_names_its_credential_and_ca_secrets() {
        assert_eq!(referenced_secrets(&spec()), ["service-app", "sim-ca"]);
    }
}

#[cfg(test)]
mod ingestion_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_ingestion_probe_is_its_own_condition_and_leaves_ready_alone() {
        let spec: EmailSecurityServiceSpec = serde_json::from_value(json!({
            "application": {"clientId": "11111111-2222-3333-4444-555555555555",
                            "credentials": {"secretName": "service-app"}},
        }))
        .unwrap();
        let now = jiff::Timestamp::now();
        let observed = |ingestion| ServiceObservation {
            credential_found: true,
            namespace: "ns".into(),
            accounts: 0,
            ingestion,
        };
        let down = Some(Err(("ServiceUnavailable".to_string(), "down".to_string())));
        let cases = [
            (None, None, true),
            (Some(Ok(())), Some(("True", "Answered")), true),
            (down, Some(("False", "ServiceUnavailable")), true),
        ];
        for (ingestion, condition, ready) in cases {
            let s = status(&spec, Some(1), None, &observed(ingestion), now);
            let got = conditions::get(&s.conditions, INGESTION_REACHABLE)
                .map(|c| (c.status.as_str(), c.reason.as_str()));
            assert_eq!(got, condition);
            assert_eq!(conditions::is_true(&s.conditions, "Ready"), ready);
        }
    }
}

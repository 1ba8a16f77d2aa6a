//! The handoff to the email-security service (protocol v1, `docs/protocol/`): the tenant's
//! registration, its directory as a full snapshot and then the changes of each delta round,
//! numbered and resumed from what both sides recorded ([`state`], [`crate::service::stream`]).
//! A service that fails is reported and retried; the tenant-side work goes on without it.

pub mod catch_up;
pub mod health;
pub mod round;
pub mod selected;
pub mod state;

use super::decide::ConfigProblem;
use super::service::EffectiveService;
use super::tenant_clients::{ca_bundle, secret_data};
use crate::controller::context::Context;
use crate::controller::error::Result;
use crate::service::client::ServiceClient;
use crate::service::error::ServiceError;
use crate::service::protocol::{Cursor, Registered, Registration};
use exo_api::email_security_service::Ingestion;
use exo_api::exchange_service_account::{DeliveryStatus, ExchangeServiceAccount, Mode};

/// How the account's tenant is handed to its service.
#[derive(Clone, Debug)]
pub struct Handoff {
    /// The signed client of the ingestion endpoint.
    pub client: ServiceClient,
    /// The ingestion URL (the stream's target, recorded with it).
    pub endpoint: String,
    /// The service, as `Kind/name`.
    pub service: String,
    registration: RegistrationFields,
}

/// What a registration says besides the tenant and its domains.
#[derive(Clone, Debug)]
struct RegistrationFields {
    cloud: String,
    mode: String,
    direction: Option<String>,
    scope: String,
    policies: Vec<String>,
}

/// What the handoff found in this pass.
#[derive(Clone, Debug, PartialEq)]
pub enum DeliveryObservation {
    /// Nothing was sent: access is not granted yet.
    WaitingForGrant,
    /// The service acknowledged the directory (a full snapshot at least once).
    Acknowledged(DeliveryStatus),
    /// The service did not acknowledge what was to be delivered.
    Failed {
        /// Stable reason.
        reason: String,
        /// Message for a human (no secret, no request id).
        message: String,
        /// Only a human can fix it (a refused signature, a refused request).
        needs_human: bool,
        /// How long the service asked to wait.
        retry_after: Option<std::time::Duration>,
    },
}

impl DeliveryObservation {
    /// The observation of a failed exchange with `service`.
    pub fn failed(service: &str, e: &ServiceError) -> Self {
        let needs_human = !e.is_transient()
            && !matches!(e, ServiceError::Gap { .. } | ServiceError::NotRegistered);
        let then = match e {
            ServiceError::Unauthorized { .. } => {
                "; check that spec.ingestion.credentialsSecretRef of the service holds the secret the service expects, and the clock"
            }
            _ if needs_human => "; retried when the account or its service changes",
            _ => "; retrying",
        };
        Self::Failed {
            reason: e.reason().to_string(),
            message: format!("The {service} did not acknowledge the delivery: {e}{then}."),
            needs_human,
            retry_after: e.retry_after(),
        }
    }
}

impl Handoff {
    /// The handoff of `esa` to its `service`: `None` when the service has no ingestion
    /// endpoint; a problem when its credential or CA bundle cannot be read.
    pub async fn load(
        esa: &ExchangeServiceAccount,
        service: &EffectiveService,
        ctx: &Context,
    ) -> Result<Option<std::result::Result<Handoff, ConfigProblem>>> {
        let Some(ingestion) = &service.ingestion else {
            return Ok(None);
        };
        let named = &service.named;
        let client =
            match ingestion_client(ingestion, named, &service.service_namespace, ctx).await? {
                Ok(c) => c,
                Err(problem) => return Ok(Some(Err(problem))),
            };
        let spec = &esa.spec;
        let name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let registration = RegistrationFields {
            cloud: name(serde_json::to_value(spec.cloud).unwrap_or_default()),
            mode: name(serde_json::to_value(spec.mode).unwrap_or_default()),
            direction: match (&spec.mode, &spec.inline) {
                (Mode::Inline, Some(inline)) => Some(name(
                    serde_json::to_value(inline.direction).unwrap_or_default(),
                )),
                _ => None,
            },
            scope: name(serde_json::to_value(spec.sync.scope).unwrap_or_default()),
            policies: spec.policies.clone(),
        };
        Ok(Some(Ok(Handoff {
            client,
            endpoint: ingestion.url.clone(),
            service: named.clone(),
            registration,
        })))
    }

    /// Registers `tenant` with its verified `domains` (or updates the registration): the
    /// policies the service accepted and where the stream stands.
    pub async fn register(
        &self,
        tenant: &str,
        domains: Vec<String>,
    ) -> std::result::Result<Registered, ServiceError> {
        let f = &self.registration;
        let registration = Registration {
            tenant_id: tenant.to_string(),
            cloud: f.cloud.clone(),
            mode: f.mode.clone(),
            direction: f.direction.clone(),
            scope: f.scope.clone(),
            verified_domains: domains,
            policies: f.policies.clone(),
        };
        self.client
            .register(&registration, &message_id(tenant, "register"))
            .await
    }

    /// Deregisters `tenant`.
    pub async fn deregister(&self, tenant: &str) -> std::result::Result<bool, ServiceError> {
        self.client
            .deregister(tenant, &message_id(tenant, "deregister"))
            .await
    }
}

/// The names of the tenant's verified domains, as a registration lists them.
pub fn verified(domains: &[crate::microsoft::graph::models::Domain]) -> Vec<String> {
    domains
        .iter()
        .filter(|d| d.is_verified)
        .map(|d| d.id.clone())
        .collect()
}

/// The signed client of a service's `ingestion` (its Secrets and ConfigMaps in `namespace`;
/// `named` is the service as `Kind/name`); a problem when its credential or CA bundle cannot
/// be read.
pub async fn ingestion_client(
    ingestion: &Ingestion,
    named: &str,
    namespace: &str,
    ctx: &Context,
) -> Result<std::result::Result<ServiceClient, ConfigProblem>> {
    let problem = |reason, message: String| Ok(Err(ConfigProblem { reason, message }));
    let Some(secret_ref) = &ingestion.credentials_secret_ref else {
        return problem(
            "IngestionCredentialMissing",
            format!(
                "The {named} has no spec.ingestion.credentialsSecretRef: deliveries must be signed; name the Secret key holding the service's shared secret."
            ),
        );
    };
    let secret = secret_data(&ctx.client, namespace, &secret_ref.name)
        .await?
        .and_then(|d| d.get(&secret_ref.key).cloned());
    let Some(secret) = secret else {
        return problem(
            "IngestionCredentialNotFound",
            format!(
                "The Secret {} with key {:?} named in spec.ingestion.credentialsSecretRef of the {named} was not found in namespace {namespace}.",
                secret_ref.name, secret_ref.key
            ),
        );
    };
    let ca = match &ingestion.ca_bundle {
        None => None,
        Some(reference) => match ca_bundle(&ctx.client, namespace, reference).await? {
            Some(pem) => Some(pem),
            None => {
                return problem(
                    "CaBundleNotFound",
                    format!(
                        "The CA bundle {:?} {} with key {:?} named in spec.ingestion.caBundle of the {named} was not found in namespace {namespace}.",
                        reference.kind, reference.name, reference.key
                    ),
                );
            }
        },
    };
    // The shared client for this trust: its connections are reused across passes.
    let http = match ctx.http(ca.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            return problem(
                "CaBundleInvalid",
                format!("{e}; fix the bundle named in spec.ingestion.caBundle of the {named}."),
            );
        }
    };
    match ServiceClient::with_http(http, &ingestion.url, &secret) {
        Ok(c) => Ok(Ok(c)),
        Err(e) => problem(
            e.reason(),
            format!("{e}; fix spec.ingestion of the {named}."),
        ),
    }
}

/// A message id unique to this request (and kept on its retries, which the client makes).
pub fn message_id(tenant: &str, what: &str) -> String {
    let now = jiff::Timestamp::now();
    format!("{tenant}.{what}.{}", now.as_nanosecond())
}

/// Whether the stream needs a delivery now although the directory is not due: the service
/// (by its `cursor`, as a registration answers it) asked for a snapshot, has none, or holds
/// another watermark than recorded; or a round was left unfinished.
pub fn needs_delivery(cursor: &Cursor, recorded: &state::StreamState) -> bool {
    cursor.resync_requested
        || !cursor.snapshot_complete
        || cursor.watermark != recorded.watermark
        || recorded.pending.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_in_step_needs_nothing_until_the_directory_is_due() {
        let recorded = state::StreamState {
            watermark: 7,
            ..Default::default()
        };
        let cursor = |watermark, resync, complete| Cursor {
            watermark,
            resync_requested: resync,
            snapshot_complete: complete,
        };
        assert!(!needs_delivery(&cursor(7, false, true), &recorded));
        assert!(needs_delivery(&cursor(7, true, true), &recorded));
        assert!(needs_delivery(&cursor(7, false, false), &recorded));
        assert!(needs_delivery(&cursor(3, false, true), &recorded));
        assert!(needs_delivery(&cursor(9, false, true), &recorded));
        let unfinished = state::StreamState {
            pending: Some(state::PendingRound {
                round: crate::service::stream::Pending {
                    kind: crate::service::stream::RoundKind::Changes,
                    first: 8,
                    last: Some(9),
                },
                link: None,
                users: 0,
            }),
            ..recorded.clone()
        };
        assert!(needs_delivery(&cursor(7, false, true), &unfinished));
    }

    #[test]
    fn a_refused_signature_needs_a_human_and_an_outage_does_not() {
        let refused = DeliveryObservation::failed(
            "EmailSecurityService/s",
            &ServiceError::Unauthorized {
                reason: "NoMatchingSignature".into(),
            },
        );
        assert!(
            matches!(refused, DeliveryObservation::Failed { needs_human: true, ref message, .. }
            if message.contains("credentialsSecretRef"))
        );
        let down = DeliveryObservation::failed(
            "EmailSecurityService/s",
            &ServiceError::Unavailable {
                status: 503,
                retry_after: None,
            },
        );
        assert!(matches!(
            down,
            DeliveryObservation::Failed {
                needs_human: false,
                ..
            }
        ));
    }
}

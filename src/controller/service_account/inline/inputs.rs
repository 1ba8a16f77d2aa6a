//! What the desired state is computed from: mail domains, protected members, the routing
//! token.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, ObjectMeta};

use super::{TOKEN_KEY, not_configured, secret_name};
use crate::controller::context::Context;
use crate::controller::error::{Error, Result};
use crate::controller::planned::{Action, Change, Target};
use crate::controller::service_account::decide::InlineCheck;
use crate::controller::service_account::tenant_clients::TenantClients;
use crate::microsoft::identity::token::AccessToken;
use exo_api::exchange_service_account::{ExchangeServiceAccount, SyncScope};
use exo_api::sync_target_list::SyncTargetList;

/// What the desired state is computed from.
pub(super) struct Gathered {
    pub(super) members: Vec<String>,
    pub(super) mail_domains: Vec<String>,
    pub(super) protected_domains: Vec<String>,
    pub(super) routing_token: String,
}

/// The inputs of the desired state: the mail domains (those last read when `reuse_domains`
/// and known), the protected members and the routing token.
pub(super) async fn gather(
    esa: &ExchangeServiceAccount,
    account: &TenantClients,
    graph_token: &AccessToken,
    ctx: &Context,
    reuse_domains: bool,
) -> Result<std::result::Result<Gathered, InlineCheck>> {
    let known = reuse_domains
        .then(|| ctx.memo(&account.key).mail_domains)
        .flatten();
    let mail_domains: Vec<String> = match known {
        Some(d) => d,
        None => {
            let domains: Vec<String> = account
                .graph
                .domains(graph_token)
                .await?
                .iter()
                .filter(|d| d.is_mail_domain())
                .map(|d| d.id.to_lowercase())
                .collect();
            ctx.update_memo(&account.key, |m| m.mail_domains = Some(domains.clone()));
            domains
        }
    };
    let members = match esa.spec.sync.scope {
        SyncScope::All => Vec::new(),
        SyncScope::Selected => {
            let Some(reference) = &esa.spec.sync.target_list_ref else {
                return Ok(Err(not_configured(
                    "TargetListNotSet",
                    "spec.sync.targetListRef must name a SyncTargetList when scope is Selected."
                        .into(),
                )));
            };
            let api: Api<SyncTargetList> =
                Api::namespaced(ctx.client.clone(), &esa.namespace().unwrap_or_default());
            match api.get_opt(&reference.name).await?.and_then(|s| s.status) {
                Some(status) if status.last_resolved_time.is_some() => status
                    .resolved_users
                    .iter()
                    .map(|u| u.user_principal_name.clone())
                    .collect(),
                _ => {
                    return Ok(Err(not_configured(
                        "WaitingForTargetList",
                        format!(
                            "Mail flow is configured once the SyncTargetList {} is resolved.",
                            reference.name
                        ),
                    )));
                }
            }
        }
    };
    let protected_domains = match esa.spec.sync.scope {
        SyncScope::All => mail_domains.clone(),
        SyncScope::Selected => members
            .iter()
            .filter_map(|m| m.rsplit_once('@').map(|(_, d)| d.to_lowercase()))
            .collect(),
    };
    let routing_token = routing_token(esa, ctx).await?;
    Ok(Ok(Gathered {
        members,
        mail_domains,
        protected_domains,
        routing_token,
    }))
}

/// The tenant's routing token from the account's Secret, created on first use. It marks mail
/// the service has seen; being secret, external senders cannot forge it.
pub(super) async fn routing_token(esa: &ExchangeServiceAccount, ctx: &Context) -> Result<String> {
    let namespace = esa.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = secret_name(esa);
    if let Some(secret) = api.get_opt(&name).await?
        && let Some(value) = secret.data.as_ref().and_then(|d| d.get(TOKEN_KEY))
        && let Ok(token) = String::from_utf8(value.0.clone())
    {
        return Ok(token);
    }
    let planned = || Change::new(Target::Cluster, Action::Create, format!("Secret {name}"));
    if ctx.plans_only(planned) {
        // Only planned: the rules are planned with a token that is never used.
        return Ok("routing-token-to-be-generated".into());
    }
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::Internal("no random numbers available".into()))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace),
            owner_references: TenantClients::owner_reference(esa).map(|o| vec![o]),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "exo-operator".to_string(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            TOKEN_KEY.to_string(),
            ByteString(token.clone().into_bytes()),
        )])),
        ..Default::default()
    };
    let post = crate::controller::field_manager::post();
    let created = api.create(&post, &secret);
    match crate::controller::fail_point::around("routing-token Secret", created).await {
        Ok(_) => Ok(token),
        // Created meanwhile (another replica or a retried reconcile): use that one.
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let existing = api.get(&name).await?;
            Ok(existing
                .data
                .and_then(|d| {
                    d.get(TOKEN_KEY)
                        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
                })
                .unwrap_or(token))
        }
        Err(e) => Err(e.into()),
    }
}

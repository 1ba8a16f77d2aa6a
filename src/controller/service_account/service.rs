//! The email-security service an account names (`spec.serviceRef`), and the configuration
//! the account is reconciled with: the application (the account's override, else the
//! service's), the service's endpoints and its mail flow, each with the namespace its Secrets
//! and ConfigMaps are read from.

use kube::ResourceExt;
use kube::api::Api;

use super::decide::ConfigProblem;
use crate::controller::context::Context;
use crate::controller::error::Result;
use exo_api::email_security_service::{
    ClusterEmailSecurityService, EmailSecurityService, EmailSecurityServiceSpec, Ingestion,
    ServiceKind, ServiceMailFlow,
};
use exo_api::exchange_service_account::{
    Application, EndpointOverrides, ExchangeServiceAccount, Mode, ServiceReference,
};

/// What an account is reconciled with, once its service is resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct EffectiveService {
    /// The service, as `Kind/name` for messages.
    pub named: String,
    /// The application: the account's override, else the service's.
    pub application: Application,
    /// Namespace of the application's credential Secret: the account's for an override, else
    /// the service's (a cluster service's: the cluster resource namespace).
    pub credential_namespace: String,
    /// The service's endpoint overrides.
    pub endpoints: Option<EndpointOverrides>,
    /// Namespace of the endpoints' CA bundle: the service's.
    pub service_namespace: String,
    /// Where inline mode routes mail.
    pub mail_flow: Option<ServiceMailFlow>,
    /// Where the service receives the tenant's stream, if it does.
    pub ingestion: Option<Ingestion>,
    /// The names of the policies the service offers.
    pub offered_policies: Vec<String>,
    /// Where the service receives Microsoft Graph change notifications, if it does.
    pub notification_url: Option<String>,
}

/// `Kind/name` of the service `reference` names.
pub fn named(reference: &ServiceReference) -> String {
    format!("{:?}/{}", reference.kind, reference.name)
}

/// Reads the service `esa` names: a namespaced one in the account's namespace, a cluster one
/// cluster-wide. `None` when it does not exist.
pub async fn read(
    esa: &ExchangeServiceAccount,
    ctx: &Context,
) -> Result<Option<(EmailSecurityServiceSpec, String)>> {
    let reference = &esa.spec.service_ref;
    Ok(match reference.kind {
        ServiceKind::EmailSecurityService => {
            let namespace = esa.namespace().unwrap_or_default();
            let api: Api<EmailSecurityService> = Api::namespaced(ctx.client.clone(), &namespace);
            api.get_opt(&reference.name)
                .await?
                .map(|s| (s.spec, namespace))
        }
        ServiceKind::ClusterEmailSecurityService => {
            let api: Api<ClusterEmailSecurityService> = Api::all(ctx.client.clone());
            api.get_opt(&reference.name)
                .await?
                .map(|s| (s.spec.0, ctx.settings.cluster_resource_namespace.clone()))
        }
    })
}

/// The service of `esa` and the configuration it is reconciled with; a missing service (or
/// an inline account's service without mail flow, when `needs_mail_flow`) is a problem only a
/// human can fix.
pub async fn resolve(
    esa: &ExchangeServiceAccount,
    ctx: &Context,
    needs_mail_flow: bool,
) -> Result<std::result::Result<EffectiveService, ConfigProblem>> {
    let found = read(esa, ctx).await?;
    Ok(effective(esa, found, needs_mail_flow))
}

/// The configuration of `esa` with the service `found` (its spec and the namespace its
/// Secrets and ConfigMaps are in). Pure.
pub fn effective(
    esa: &ExchangeServiceAccount,
    found: Option<(EmailSecurityServiceSpec, String)>,
    needs_mail_flow: bool,
) -> std::result::Result<EffectiveService, ConfigProblem> {
    let reference = &esa.spec.service_ref;
    let named = named(reference);
    let Some((spec, service_namespace)) = found else {
        let place = match reference.kind {
            ServiceKind::EmailSecurityService => {
                format!(" in namespace {}", esa.namespace().unwrap_or_default())
            }
            ServiceKind::ClusterEmailSecurityService => String::new(),
        };
        return Err(ConfigProblem {
            reason: "ServiceNotFound",
            message: format!(
                "The {named} named in spec.serviceRef does not exist{place}; create it or fix spec.serviceRef."
            ),
        });
    };
    if needs_mail_flow && esa.spec.mode == Mode::Inline && spec.mail_flow.is_none() {
        return Err(ConfigProblem {
            reason: "ServiceIncomplete",
            message: format!(
                "The {named} named in spec.serviceRef has no spec.mailFlow, which inline mode needs; set its smartHost, tlsCertificateDomain and serviceIpRanges."
            ),
        });
    }
    let (application, credential_namespace) = match &esa.spec.application {
        Some(own) => (own.clone(), esa.namespace().unwrap_or_default()),
        None => (spec.application, service_namespace.clone()),
    };
    Ok(EffectiveService {
        named,
        application,
        credential_namespace,
        endpoints: spec.endpoints,
        service_namespace,
        mail_flow: spec.mail_flow,
        ingestion: spec.ingestion,
        offered_policies: spec.policies.into_iter().map(|p| p.name).collect(),
        notification_url: spec.notification_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn account(spec: serde_json::Value) -> ExchangeServiceAccount {
        let mut esa: ExchangeServiceAccount = serde_json::from_value(json!({
            "apiVersion": "exo-operator.io/v1alpha1", "kind": "ExchangeServiceAccount",
            "metadata": {"name": "contoso", "namespace": "tenants"},
            "spec": {"tenant": "contoso.com", "mode": "Api", "serviceRef": {"name": "mail-security"}},
        }))
        .unwrap();
        let mut value = serde_json::to_value(&esa.spec).unwrap();
        for (k, v) in spec.as_object().unwrap() {
            value[k] = v.clone();
        }
        esa.spec = serde_json::from_value(value).unwrap();
        esa
    }

    fn service(mail_flow: bool) -> EmailSecurityServiceSpec {
        let mut spec = json!({
            "application": {"clientId": "11111111-2222-3333-4444-555555555555",
                            "credentials": {"secretName": "service-app"}},
            "endpoints": {"login": "http://127.0.0.1:1"},
        });
        if mail_flow {
            spec["mailFlow"] = json!({"smartHost": "relay.example.com",
                "tlsCertificateDomain": "*.example.com", "serviceIpRanges": ["203.0.113.0/24"]});
        }
        serde_json::from_value(spec).unwrap()
    }

    #[test]
    fn the_service_gives_the_application_endpoints_and_mail_flow() {
        let found = Some((service(true), "operators".to_string()));
        let e = effective(&account(json!({})), found, true).unwrap();
        assert_eq!(e.application.credentials.secret_name, "service-app");
        assert_eq!(e.credential_namespace, "operators");
        assert_eq!(e.service_namespace, "operators");
        assert_eq!(
            e.endpoints.unwrap().login.as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(e.mail_flow.unwrap().smart_host, "relay.example.com");
        assert_eq!(e.named, "EmailSecurityService/mail-security");
    }

    #[test]
    fn an_application_override_is_read_in_the_account_namespace() {
        let own = json!({"application": {"clientId": "0d1e2f3a-4b5c-4d6e-8f70-112233445566",
                                         "credentials": {"secretName": "own-app"}}});
        let found = Some((service(true), "operators".to_string()));
        let e = effective(&account(own), found, true).unwrap();
        assert_eq!(
            e.application.client_id,
            "0d1e2f3a-4b5c-4d6e-8f70-112233445566"
        );
        assert_eq!(e.credential_namespace, "tenants");
        assert_eq!(e.service_namespace, "operators");
    }

    #[test]
    fn a_missing_or_incomplete_service_is_named() {
        let missing = effective(&account(json!({})), None, true).unwrap_err();
        assert_eq!(missing.reason, "ServiceNotFound");
        assert!(
            missing
                .message
                .contains("EmailSecurityService/mail-security named in spec.serviceRef does not exist in namespace tenants"),
            "{}",
            missing.message
        );
        let cluster = account(
            json!({"serviceRef": {"kind": "ClusterEmailSecurityService", "name": "shared"}}),
        );
        let missing = effective(&cluster, None, true).unwrap_err();
        assert!(
            missing.message.starts_with(
                "The ClusterEmailSecurityService/shared named in spec.serviceRef does not exist;"
            ),
            "{}",
            missing.message
        );
        let inline = account(json!({"mode": "Inline", "inline": {}}));
        let found = || Some((service(false), "tenants".to_string()));
        let incomplete = effective(&inline, found(), true).unwrap_err();
        assert_eq!(incomplete.reason, "ServiceIncomplete");
        assert!(incomplete.message.contains("spec.mailFlow"));
        // Deletion needs no mail flow; an API account never does.
        assert!(effective(&inline, found(), false).is_ok());
        assert!(effective(&account(json!({})), found(), true).is_ok());
    }
}

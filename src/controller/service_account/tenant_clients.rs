//! One account's view of the world for the length of a reconcile: its endpoints, HTTP, identity
//! and Graph clients (from the configuration of its service), and the Secrets and ConfigMaps
//! it reads.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::{Resource, ResourceExt};

use super::decide::ConfigProblem;
use super::service::EffectiveService;
use crate::controller::context::Context;
use crate::controller::error::Result;
use crate::microsoft::cloud::Endpoints;
use crate::microsoft::graph::GraphClient;
use crate::microsoft::http::HttpClient;
use crate::microsoft::identity::IdentityClient;
use crate::microsoft::identity::cache::CacheKey;
use crate::microsoft::identity::credential::ClientCredential;
use exo_api::exchange_service_account::{CaBundleKind, Credentials, ExchangeServiceAccount};

/// The PEM bundle a CA reference names (a Secret or ConfigMap key in `namespace`), `None` when
/// the object or its key does not exist.
pub async fn ca_bundle(
    client: &kube::Client,
    namespace: &str,
    reference: &exo_api::exchange_service_account::CaBundleReference,
) -> Result<Option<Vec<u8>>> {
    let data = match reference.kind {
        CaBundleKind::Secret => secret_data(client, namespace, &reference.name).await?,
        CaBundleKind::ConfigMap => {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
            api.get_opt(&reference.name).await?.map(|cm| {
                cm.data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.into_bytes()))
                    .collect()
            })
        }
    };
    Ok(data.and_then(|d| d.get(&reference.key).cloned()))
}

/// Reads a Secret's data, `None` when the Secret does not exist.
pub async fn secret_data(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, Vec<u8>>>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    Ok(api.get_opt(name).await?.map(|s| {
        let mut data: BTreeMap<String, Vec<u8>> = s
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        for (k, v) in s.string_data.unwrap_or_default() {
            data.insert(k, v.into_bytes());
        }
        data
    }))
}

/// The clients one account calls Microsoft with (identity platform, Graph, HTTP), and its
/// identity: what a reconcile needs to reach the tenant.
pub struct TenantClients {
    /// `namespace/name`.
    pub key: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Tenant, as in the spec.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// The application's credential and the namespace of its Secret.
    pub credentials: Credentials,
    /// Namespace of the credential Secret.
    pub credential_namespace: String,
    /// Resolved endpoints.
    pub endpoints: Endpoints,
    /// Identity-platform client.
    pub identity: IdentityClient,
    /// Graph client.
    pub graph: GraphClient,
    /// The HTTP client (for Management and notifications).
    pub http: HttpClient,
}

impl TenantClients {
    /// An account's key, `namespace/name`: its memo, its tokens' cache entries, its log span.
    pub fn key_of(esa: &ExchangeServiceAccount) -> String {
        format!("{}/{}", esa.namespace().unwrap_or_default(), esa.name_any())
    }

    /// Sets up the clients of `esa` with the configuration of its `service`; a configuration
    /// problem (a missing CA bundle, a bad endpoint) is returned as such.
    pub async fn load(
        esa: &ExchangeServiceAccount,
        service: &EffectiveService,
        ctx: &Context,
    ) -> Result<std::result::Result<Self, ConfigProblem>> {
        let namespace = esa.namespace().unwrap_or_default();
        let name = esa.name_any();
        let spec = &esa.spec;
        let ca_namespace = &service.service_namespace;
        let reference = service
            .endpoints
            .as_ref()
            .and_then(|e| e.ca_bundle.as_ref());
        let extra_ca = match reference {
            None => None,
            Some(reference) => match ca_bundle(&ctx.client, ca_namespace, reference).await? {
                Some(pem) => Some(pem),
                None => {
                    return Ok(Err(ConfigProblem {
                        reason: "CaBundleNotFound",
                        message: format!(
                            "The CA bundle {:?} {} with key {:?} was not found in namespace {ca_namespace}; create it or fix spec.endpoints.caBundle of the {}.",
                            reference.kind, reference.name, reference.key, service.named
                        ),
                    }));
                }
            },
        };
        let http = match ctx.http(extra_ca.as_deref()) {
            Ok(h) => h,
            Err(e) => {
                return Ok(Err(ConfigProblem {
                    reason: "CaBundleInvalid",
                    message: format!(
                        "{e}; fix the bundle named in spec.endpoints.caBundle of the {}.",
                        service.named
                    ),
                }));
            }
        };
        let endpoints = Endpoints::resolve(spec.cloud, service.endpoints.as_ref());
        let application = &service.application;
        let identity = match IdentityClient::new(
            http.clone(),
            &endpoints,
            &spec.tenant,
            &application.client_id,
        ) {
            Ok(i) => i,
            Err(e) => {
                return Ok(Err(ConfigProblem {
                    reason: "EndpointInvalid",
                    message: e.to_string(),
                }));
            }
        };
        Ok(Ok(Self {
            key: Self::key_of(esa),
            graph: GraphClient::new(http.clone(), &endpoints),
            namespace,
            name,
            tenant: spec.tenant.clone(),
            client_id: application.client_id.clone(),
            credentials: application.credentials.clone(),
            credential_namespace: service.credential_namespace.clone(),
            endpoints,
            identity,
            http,
        }))
    }

    /// Reads the application's credential from its Secret.
    pub async fn credential(
        &self,
        ctx: &Context,
    ) -> Result<std::result::Result<ClientCredential, ConfigProblem>> {
        let spec = &self.credentials;
        let namespace = &self.credential_namespace;
        let Some(data) = secret_data(&ctx.client, namespace, &spec.secret_name).await? else {
            return Ok(Err(ConfigProblem {
                reason: "CredentialSecretNotFound",
                message: format!(
                    "The credentials Secret {} was not found in namespace {namespace}; create it with the application's client secret or certificate.",
                    spec.secret_name
                ),
            }));
        };
        Ok(
            ClientCredential::from_secret(spec, &data).map_err(|e| ConfigProblem {
                reason: "CredentialSecretInvalid",
                message: e.to_string(),
            }),
        )
    }

    /// An app-only token for `scope`, from the cache while fresh.
    pub async fn app_token(
        &self,
        ctx: &Context,
        credential: &ClientCredential,
        scope: &str,
    ) -> std::result::Result<
        crate::microsoft::identity::token::AccessToken,
        crate::microsoft::identity::TokenError,
    > {
        let key = self.cache_key(scope, &credential.fingerprint());
        ctx.tokens
            .get_or_fetch(&key, jiff::Timestamp::now, || {
                self.identity.app_token(credential, scope)
            })
            .await
    }

    /// The token-cache key of this account for `scope` with credential fingerprint `credential`.
    pub fn cache_key(&self, scope: &str, credential: &str) -> CacheKey {
        CacheKey {
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
            scope: scope.to_string(),
            credential: credential.to_string(),
        }
    }

    /// The admin consent URL of this account (state `namespace/name`, for the callback).
    pub fn consent_url(&self, esa: &ExchangeServiceAccount) -> String {
        let redirect = esa
            .spec
            .authorization
            .consent_redirect_uri
            .clone()
            .unwrap_or_default();
        self.endpoints.admin_consent_url(
            &self.tenant,
            &self.client_id,
            &self.endpoints.graph_scope,
            &redirect,
            &self.key,
        )
    }

    /// An owner reference to the account, for the objects it owns.
    pub fn owner_reference(
        esa: &ExchangeServiceAccount,
    ) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
        esa.controller_owner_ref(&())
    }
}

//! The Secret that keeps a DeviceCode grant: the refresh token and, while a sign-in is open,
//! the device-code prompt, so that a restart neither loses the grant nor the prompt. Every
//! write carries the resourceVersion it read (optimistic concurrency).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::Api;
use secrecy::{ExposeSecret, SecretString};

use crate::controller::error::Result;
use crate::microsoft::identity::DeviceCodePrompt;

/// Key of the refresh token.
pub const REFRESH_TOKEN_KEY: &str = "refresh-token";
/// Key of the open device-code prompt (JSON).
pub const PROMPT_KEY: &str = "device-code-prompt";
use crate::controller::service_account::decide::SignInEnd;
pub use exo_api::annotations::{
    GRANT_ENDED_AT, GRANT_ENDED_REASON, REGRANT_HANDLED, SIGN_IN_ENDED, SIGN_IN_ENDED_AT,
};

/// The grant Secret of one account.
pub struct GrantSecret {
    api: Api<Secret>,
    name: String,
    owner: Option<OwnerReference>,
    current: Option<Secret>,
    /// A planning pass: nothing is saved.
    planning: bool,
}

/// What the grant Secret holds.
#[derive(Clone, Debug, Default)]
pub struct GrantState {
    /// The refresh token.
    pub refresh_token: Option<SecretString>,
    /// The open prompt.
    pub prompt: Option<DeviceCodePrompt>,
    /// The regrant request already acted on.
    pub regrant_handled: Option<String>,
    /// How and when the last sign-in ended without a grant, until a new prompt opens.
    pub sign_in_ended: Option<(SignInEnd, jiff::Timestamp)>,
    /// The audit of the last grant that ended: when, and why (reason and AADSTS code).
    pub grant_ended: Option<(jiff::Timestamp, String)>,
}

/// The annotations that keep `state`'s non-secret fields, each `None` when it must go.
fn audit_annotations(state: &GrantState) -> [(&'static str, Option<String>); 5] {
    let ended = state.sign_in_ended;
    let grant = state.grant_ended.as_ref();
    [
        (REGRANT_HANDLED, state.regrant_handled.clone()),
        (SIGN_IN_ENDED, ended.map(|(e, _)| e.as_str().to_string())),
        (SIGN_IN_ENDED_AT, ended.map(|(_, t)| t.to_string())),
        (GRANT_ENDED_AT, grant.map(|(t, _)| t.to_string())),
        (GRANT_ENDED_REASON, grant.map(|(_, r)| r.clone())),
    ]
}

impl GrantSecret {
    /// A planning pass: [`Self::save`] saves nothing.
    pub fn only_planning(&mut self) {
        self.planning = true;
    }

    /// Reads Secret `name` in `namespace`.
    pub async fn load(
        client: &kube::Client,
        namespace: &str,
        name: &str,
        owner: Option<OwnerReference>,
    ) -> Result<Self> {
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let current = api.get_opt(name).await?;
        Ok(Self {
            api,
            name: name.to_string(),
            owner,
            current,
            planning: false,
        })
    }

    /// The Secret's uid, when it exists (part of token-cache keys).
    pub fn uid(&self) -> Option<String> {
        self.current.as_ref()?.metadata.uid.clone()
    }

    /// What it holds.
    pub fn state(&self) -> GrantState {
        let Some(secret) = &self.current else {
            return GrantState::default();
        };
        let data = secret.data.clone().unwrap_or_default();
        let text = |k: &str| {
            data.get(k)
                .and_then(|v| String::from_utf8(v.0.clone()).ok())
                .filter(|s| !s.trim().is_empty())
        };
        let annotations = secret.metadata.annotations.clone().unwrap_or_default();
        let note = |k: &str| annotations.get(k).cloned();
        let time = |k: &str| note(k).and_then(|t| t.parse::<jiff::Timestamp>().ok());
        GrantState {
            refresh_token: text(REFRESH_TOKEN_KEY)
                .map(|t| SecretString::from(t.trim().to_string())),
            prompt: text(PROMPT_KEY).and_then(|p| serde_json::from_str(&p).ok()),
            regrant_handled: note(REGRANT_HANDLED),
            sign_in_ended: note(SIGN_IN_ENDED)
                .and_then(|e| SignInEnd::parse(&e))
                .zip(time(SIGN_IN_ENDED_AT)),
            grant_ended: time(GRANT_ENDED_AT).zip(note(GRANT_ENDED_REASON)),
        }
    }

    /// Writes `state`, creating the Secret (owned by the account) when it does not exist, and
    /// replacing it at the resourceVersion read otherwise. On a conflict it reads the Secret
    /// again and retries once, so a concurrent edit is never overwritten blindly.
    pub async fn save(&mut self, state: &GrantState) -> Result<()> {
        if self.planning {
            return Ok(());
        }
        let mut data = BTreeMap::new();
        if let Some(t) = &state.refresh_token {
            data.insert(
                REFRESH_TOKEN_KEY.to_string(),
                ByteString(t.expose_secret().as_bytes().to_vec()),
            );
        }
        if let Some(p) = &state.prompt {
            data.insert(PROMPT_KEY.to_string(), ByteString(serde_json::to_vec(p)?));
        }
        let post = crate::controller::field_manager::post();
        for attempt in 0..2 {
            let write = async {
                match &self.current {
                    Some(existing) => {
                        let mut secret = existing.clone();
                        secret.data = Some(data.clone());
                        secret.string_data = None;
                        set_annotations(&mut secret.metadata, state);
                        self.api.replace(&self.name, &post, &secret).await
                    }
                    None => {
                        let mut metadata = ObjectMeta {
                            name: Some(self.name.clone()),
                            owner_references: self.owner.clone().map(|o| vec![o]),
                            labels: Some(BTreeMap::from([(
                                "app.kubernetes.io/managed-by".to_string(),
                                "exo-operator".to_string(),
                            )])),
                            ..Default::default()
                        };
                        set_annotations(&mut metadata, state);
                        let secret = Secret {
                            metadata,
                            data: Some(data.clone()),
                            type_: Some("Opaque".into()),
                            ..Default::default()
                        };
                        self.api.create(&post, &secret).await
                    }
                }
            };
            let result = crate::controller::fail_point::around("grant Secret", write).await;
            match result {
                Ok(saved) => {
                    self.current = Some(saved);
                    return Ok(());
                }
                Err(kube::Error::Api(e)) if (e.code == 409) && attempt == 0 => {
                    self.current = self.api.get_opt(&self.name).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the loop returns")
    }
}

/// Sets (or removes) the annotations that keep `state`'s non-secret fields.
fn set_annotations(metadata: &mut ObjectMeta, state: &GrantState) {
    let annotations = metadata.annotations.get_or_insert_with(BTreeMap::new);
    for (key, value) in audit_annotations(state) {
        match value {
            Some(v) => annotations.insert(key.to_string(), v),
            None => annotations.remove(key),
        };
    }
}

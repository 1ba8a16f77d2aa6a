//! Offline checks of manifests (YAML files as users keep them in Git): every document of our
//! kinds is admitted against its CRD exactly as the API server would, then read into the Rust
//! types. Backs `exo-operator validate` and the tests of `examples/`.

use std::sync::LazyLock;

use kube::CustomResourceExt;
use serde_json::Value;

use exo_admission::SchemaValidator;
use exo_api::{
    ClusterEmailSecurityService, EmailSecurityService, ExchangeServiceAccount, GROUP,
    SyncTargetList, VERSION,
};

/// A manifest document after the checks.
#[derive(Debug, Clone)]
pub enum Manifest {
    /// An ExchangeServiceAccount, defaults applied.
    ExchangeServiceAccount(Box<ExchangeServiceAccount>),
    /// A SyncTargetList, defaults applied.
    SyncTargetList(Box<SyncTargetList>),
    /// An EmailSecurityService, defaults applied.
    EmailSecurityService(Box<EmailSecurityService>),
    /// A ClusterEmailSecurityService, defaults applied.
    ClusterEmailSecurityService(Box<ClusterEmailSecurityService>),
    /// Any other kind, not checked beyond its `apiVersion`, `kind` and name.
    Other {
        /// `apiVersion` of the document.
        api_version: String,
        /// `kind` of the document.
        kind: String,
        /// The document as parsed.
        value: Value,
    },
}

impl Manifest {
    /// `kind/name` of the document, for messages.
    pub fn display_name(&self) -> String {
        match self {
            Self::ExchangeServiceAccount(o) => {
                format!("ExchangeServiceAccount/{}", name_of(&o.metadata.name))
            }
            Self::SyncTargetList(o) => format!("SyncTargetList/{}", name_of(&o.metadata.name)),
            Self::EmailSecurityService(o) => {
                format!("EmailSecurityService/{}", name_of(&o.metadata.name))
            }
            Self::ClusterEmailSecurityService(o) => {
                format!("ClusterEmailSecurityService/{}", name_of(&o.metadata.name))
            }
            Self::Other { kind, value, .. } => {
                format!(
                    "{kind}/{}",
                    value["metadata"]["name"].as_str().unwrap_or("<unnamed>")
                )
            }
        }
    }
}

fn name_of(name: &Option<String>) -> &str {
    name.as_deref().unwrap_or("<unnamed>")
}

static ESA: LazyLock<SchemaValidator> = LazyLock::new(|| {
    SchemaValidator::for_crd(&ExchangeServiceAccount::crd(), VERSION)
        .expect("the ESA CRD serves v1alpha1")
});
static STL: LazyLock<SchemaValidator> = LazyLock::new(|| {
    SchemaValidator::for_crd(&SyncTargetList::crd(), VERSION).expect("the STL CRD serves v1alpha1")
});
static ESS: LazyLock<SchemaValidator> = LazyLock::new(|| {
    SchemaValidator::for_crd(&EmailSecurityService::crd(), VERSION)
        .expect("the ESS CRD serves v1alpha1")
});
static CESS: LazyLock<SchemaValidator> = LazyLock::new(|| {
    SchemaValidator::for_crd(&ClusterEmailSecurityService::crd(), VERSION)
        .expect("the CESS CRD serves v1alpha1")
});

/// Splits a YAML stream into its non-empty documents.
pub fn parse_yaml_documents(text: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).map_err(|e| format!("not valid YAML: {e}"))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Checks one document; the errors read like the API server's (`spec.tenant: Invalid value: ...`).
pub fn check_document(doc: &Value) -> Result<Manifest, Vec<String>> {
    let api_version = doc["apiVersion"].as_str().unwrap_or_default().to_string();
    let kind = doc["kind"].as_str().unwrap_or_default().to_string();
    if api_version.is_empty() || kind.is_empty() {
        return Err(vec!["apiVersion and kind are required".into()]);
    }
    if doc["metadata"]["name"].as_str().is_none_or(str::is_empty) {
        return Err(vec!["metadata.name: Required value".into()]);
    }
    let ours = api_version.split('/').next() == Some(GROUP);
    if ours && api_version != format!("{GROUP}/{VERSION}") {
        return Err(vec![format!(
            "apiVersion {api_version} is not served; use {GROUP}/{VERSION}"
        )]);
    }
    let validator = match (ours, kind.as_str()) {
        (true, "ExchangeServiceAccount") => &*ESA,
        (true, "SyncTargetList") => &*STL,
        (true, "EmailSecurityService") => &*ESS,
        (true, "ClusterEmailSecurityService") => &*CESS,
        (true, other) => return Err(vec![format!("kind {other} is not served by {GROUP}")]),
        (false, _) => {
            return Ok(Manifest::Other {
                api_version,
                kind,
                value: doc.clone(),
            });
        }
    };
    // kubectl validates strictly by default: the API server rejects unknown fields.
    let unknown = validator.unknown_fields(doc);
    if !unknown.is_empty() {
        return Err(unknown
            .iter()
            .map(|f| {
                format!(
                    "{f}: unknown field (a typo? `kubectl explain {}` lists the fields)",
                    explain_path(&kind, f)
                )
            })
            .collect());
    }
    let admitted = validator
        .admit(doc, None)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let typed = |e: serde_json::Error| vec![format!("does not match the {kind} type: {e}")];
    Ok(match kind.as_str() {
        "ExchangeServiceAccount" => Manifest::ExchangeServiceAccount(Box::new(
            serde_json::from_value(admitted).map_err(typed)?,
        )),
        "EmailSecurityService" => Manifest::EmailSecurityService(Box::new(
            serde_json::from_value(admitted).map_err(typed)?,
        )),
        "ClusterEmailSecurityService" => Manifest::ClusterEmailSecurityService(Box::new(
            serde_json::from_value(admitted).map_err(typed)?,
        )),
        _ => Manifest::SyncTargetList(Box::new(serde_json::from_value(admitted).map_err(typed)?)),
    })
}

/// The `kubectl explain` path of the object holding field `f` of `kind`.
fn explain_path(kind: &str, f: &str) -> String {
    let short = match kind {
        "ExchangeServiceAccount" => "esa",
        "EmailSecurityService" => "ess",
        "ClusterEmailSecurityService" => "cess",
        _ => "stl",
    };
    let parent = f.rsplit_once('.').map(|(p, _)| p).unwrap_or("");
    let parent: String = parent
        .split('.')
        .map(|seg| seg.split('[').next().unwrap_or(seg))
        .filter(|seg| !seg.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    if parent.is_empty() {
        short.to_string()
    } else {
        format!("{short}.{parent}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_our_kinds_and_passes_others_through() {
        let docs = parse_yaml_documents(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {name: app}\nstringData: {client-secret: x}\n---\n\
             apiVersion: exo-operator.io/v1alpha1\nkind: SyncTargetList\nmetadata: {name: vip}\n\
             spec: {serviceAccountRef: {name: contoso}, users: [alice@contoso.com]}\n",
        )
        .unwrap();
        assert_eq!(docs.len(), 2);
        assert!(
            matches!(check_document(&docs[0]).unwrap(), Manifest::Other { ref kind, .. } if kind == "Secret")
        );
        let Manifest::SyncTargetList(stl) = check_document(&docs[1]).unwrap() else {
            panic!("not an STL")
        };
        assert_eq!(stl.spec.users, ["alice@contoso.com"]);
    }

    #[test]
    fn reports_schema_errors_and_unknown_versions() {
        let bad = serde_json::json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList",
            "metadata": {"name": "vip"}, "spec": {"serviceAccountRef": {"name": "contoso"}, "users": ["alice"]}});
        let errors = check_document(&bad).unwrap_err();
        assert!(
            errors[0].starts_with("spec.users[0]: Invalid value: \"alice\""),
            "{errors:?}"
        );
        let v2 = serde_json::json!({"apiVersion": "exo-operator.io/v2", "kind": "SyncTargetList", "metadata": {"name": "x"}});
        assert!(check_document(&v2).unwrap_err()[0].contains("not served"));
        let unnamed = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {}});
        assert_eq!(
            check_document(&unnamed).unwrap_err(),
            ["metadata.name: Required value"]
        );
        assert!(parse_yaml_documents("a: [").is_err());
    }

    #[test]
    fn unknown_fields_are_named_as_kubectl_would_reject_them() {
        let typo = serde_json::json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": "SyncTargetList",
            "metadata": {"name": "vip"}, "colour": "red",
            "spec": {"serviceAccountRef": {"name": "contoso", "nmespace": "x"}, "users": ["alice@contoso.com"]}});
        let errors = check_document(&typo).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("colour: unknown field"), "{errors:?}");
        assert!(
            errors[1].starts_with("spec.serviceAccountRef.nmespace: unknown field")
                && errors[1].contains("kubectl explain stl.spec.serviceAccountRef"),
            "{errors:?}"
        );
    }
}

//! The resource types the emulator serves: built-ins, and those CustomResourceDefinitions add.

use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};

use exo_admission::SchemaValidator;

/// The verbs every served type allows.
const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The verbs of a custom resource, in the order kube-apiserver lists them.
const CUSTOM_VERBS: [&str; 8] = [
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "create",
    "update",
    "watch",
];

/// The verbs of Namespaces (deleted one at a time only).
const NAMESPACE_VERBS: [&str; 7] = [
    "create", "delete", "get", "list", "patch", "update", "watch",
];

/// The verbs of the status subresource.
const STATUS_VERBS: [&str; 3] = ["get", "patch", "update"];

/// A printer column of a custom resource.
#[derive(Clone, Debug)]
pub struct PrinterColumn {
    /// Header.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    /// JSONPath of the value.
    pub json_path: String,
    /// Description.
    pub description: String,
    /// 0 shown always; above 0 only with `-o wide`.
    pub priority: i32,
}

/// One served resource (a group, version and plural).
#[derive(Clone)]
pub struct ResourceType {
    /// API group (empty for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural name (the URL segment).
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names.
    pub short_names: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Whether `/status` is a subresource (spec and status written separately).
    pub status_subresource: bool,
    /// Printer columns (custom resources).
    pub columns: Vec<PrinterColumn>,
    /// Admission against the CRD schema (custom resources).
    pub validator: Option<Arc<SchemaValidator>>,
    /// The OpenAPI schema, for the OpenAPI documents.
    pub schema: Option<Arc<Value>>,
    /// Objects of this type are stored under this key (events of both APIs share one).
    pub storage: String,
    /// Whether `metadata.generation` is maintained.
    pub generation: bool,
    /// Whether a CustomResourceDefinition serves the type.
    pub custom: bool,
    /// The fields besides `metadata.name` and `metadata.namespace` objects can be selected by
    /// (a CRD version's `selectableFields`, as dotted paths).
    pub selectable_fields: Vec<String>,
}

impl std::fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.group, self.version, self.plural)
    }
}

impl ResourceType {
    /// `group/version`, or `version` for core.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group` as in messages (`exchangeserviceaccounts.exo-operator.io`).
    pub fn qualified(&self) -> String {
        self.with_group(&self.plural)
    }

    /// `Kind.group`, as in validation messages.
    pub fn qualified_kind(&self) -> String {
        self.with_group(&self.kind)
    }

    /// `name.group`, or `name` for core.
    fn with_group(&self, name: &str) -> String {
        if self.group.is_empty() {
            name.to_string()
        } else {
            format!("{name}.{}", self.group)
        }
    }

    /// `group/version/plural` (`v1/secrets` for core), as in counters and the audit log.
    pub fn resource_name(&self) -> String {
        format!("{}/{}", self.api_version(), self.plural)
    }

    /// Whether this is the core type `plural` (`secrets`, `namespaces`, `events`).
    pub fn is_core(&self, plural: &str) -> bool {
        self.group.is_empty() && self.plural == plural
    }

    /// Whether this is `events.k8s.io` Events (stored in the core shape).
    pub fn is_events_v1(&self) -> bool {
        self.group == "events.k8s.io"
    }

    /// The list types of this kind (from the CRD schema for custom kinds).
    pub fn lists(&self) -> crate::fields::Lists<'_> {
        let schema = if self.validator.is_some() {
            self.schema.as_deref()
        } else {
            None
        };
        crate::fields::Lists::new(schema)
    }

    /// Whether this is CustomResourceDefinitions.
    pub fn is_crd(&self) -> bool {
        self.plural == "customresourcedefinitions"
    }

    /// The verbs the type allows, in the order discovery lists them.
    pub fn verbs(&self) -> &'static [&'static str] {
        if self.custom {
            &CUSTOM_VERBS
        } else if self.is_core("namespaces") {
            &NAMESPACE_VERBS
        } else {
            &VERBS
        }
    }

    /// The group, version and kind objects of this type are stored as (Events of both APIs
    /// as core Events, CRDs still as v1beta1).
    fn storage_kind(&self) -> (&str, &str, &str) {
        if self.is_events_v1() {
            ("", "v1", "Event")
        } else if self.is_crd() {
            (
                "apiextensions.k8s.io",
                "v1beta1",
                "CustomResourceDefinition",
            )
        } else {
            (&self.group, &self.version, &self.kind)
        }
    }

    /// `storageVersionHash`: base64 of the first 8 bytes of the SHA-256 of the storage
    /// `group/version/kind`, as kube-apiserver computes it.
    pub fn storage_version_hash(&self) -> String {
        use base64::Engine;
        let (group, version, kind) = self.storage_kind();
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            format!("{group}/{version}/{kind}").as_bytes(),
        );
        base64::engine::general_purpose::STANDARD.encode(&digest.as_ref()[..8])
    }

    /// The APIResource entries of discovery (the resource and its status subresource).
    pub fn discovery(&self) -> Vec<Value> {
        let mut main = json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": self.verbs(),
        });
        self.add_other_names(&mut main);
        main["storageVersionHash"] = json!(self.storage_version_hash());
        let mut out = vec![main];
        if self.status_subresource {
            out.push(json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": STATUS_VERBS,
            }));
        }
        out
    }

    /// Adds the short names and categories, if any, to a discovery entry.
    fn add_other_names(&self, doc: &mut Value) {
        if !self.short_names.is_empty() {
            doc["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            doc["categories"] = json!(self.categories);
        }
    }

    /// This type in aggregated discovery (`APIResourceDiscovery`).
    pub fn aggregated(&self) -> Value {
        // Built-in kinds are named without group and version, custom ones with them.
        let kind = if self.custom {
            json!({"group": self.group, "version": self.version, "kind": self.kind})
        } else {
            json!({"group": "", "version": "", "kind": self.kind})
        };
        let mut doc = json!({
            "resource": self.plural,
            "responseKind": kind,
            "scope": if self.namespaced { "Namespaced" } else { "Cluster" },
            "singularResource": self.singular,
            "verbs": self.verbs(),
        });
        self.add_other_names(&mut doc);
        if self.status_subresource {
            doc["subresources"] = json!([{
                "subresource": "status", "responseKind": kind, "verbs": STATUS_VERBS,
            }]);
        }
        doc
    }

    fn builtin(
        (group, version): (&str, &str),
        plural: &str,
        kind: &str,
        namespaced: bool,
        short_names: &[&str],
        status: bool,
        schema: Option<Value>,
    ) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            kind: kind.into(),
            namespaced,
            short_names: short_names.iter().map(|s| s.to_string()).collect(),
            categories: Vec::new(),
            status_subresource: status,
            columns: Vec::new(),
            validator: None,
            schema: schema.map(Arc::new),
            storage: format!("{group}/{plural}"),
            generation: false,
            custom: false,
            selectable_fields: Vec::new(),
        }
    }

    /// The built-in types: Namespaces, Secrets, ConfigMaps, Events (core and
    /// events.k8s.io), Leases and CustomResourceDefinitions.
    pub fn builtins() -> Vec<Self> {
        use k8s_openapi::api::coordination::v1::Lease;
        use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Secret};
        fn schema<T: schemars::JsonSchema>() -> Option<Value> {
            serde_json::to_value(schemars::schema_for!(T)).ok()
        }
        let mut events = Self::builtin(
            ("events.k8s.io", "v1"),
            "events",
            "Event",
            true,
            &["ev"],
            false,
            schema::<k8s_openapi::api::events::v1::Event>(),
        );
        events.storage = "/events".into();
        let mut crds = Self::builtin(
            ("apiextensions.k8s.io", "v1"),
            "customresourcedefinitions",
            "CustomResourceDefinition",
            false,
            &["crd", "crds"],
            true,
            schema::<CustomResourceDefinition>(),
        );
        crds.generation = true;
        crds.categories = vec!["api-extensions".into()];
        vec![
            Self::builtin(
                ("", "v1"),
                "namespaces",
                "Namespace",
                false,
                &["ns"],
                true,
                schema::<Namespace>(),
            ),
            Self::builtin(
                ("", "v1"),
                "secrets",
                "Secret",
                true,
                &[],
                false,
                schema::<Secret>(),
            ),
            Self::builtin(
                ("", "v1"),
                "configmaps",
                "ConfigMap",
                true,
                &["cm"],
                false,
                schema::<ConfigMap>(),
            ),
            Self::builtin(
                ("", "v1"),
                "events",
                "Event",
                true,
                &["ev"],
                false,
                schema::<Event>(),
            ),
            events,
            Self::builtin(
                ("coordination.k8s.io", "v1"),
                "leases",
                "Lease",
                true,
                &[],
                false,
                schema::<Lease>(),
            ),
            crds,
        ]
    }

    /// The types a CRD serves (one per served version).
    pub fn from_crd(crd: &CustomResourceDefinition) -> Vec<Self> {
        let spec = &crd.spec;
        spec.versions
            .iter()
            .filter(|v| v.served)
            .map(|v| {
                let validator = SchemaValidator::for_crd(crd, &v.name).map(Arc::new);
                let schema = v
                    .schema
                    .as_ref()
                    .and_then(|s| s.open_api_v3_schema.as_ref())
                    .and_then(|s| serde_json::to_value(s).ok());
                Self {
                    group: spec.group.clone(),
                    version: v.name.clone(),
                    plural: spec.names.plural.clone(),
                    singular: spec
                        .names
                        .singular
                        .clone()
                        .unwrap_or_else(|| spec.names.kind.to_lowercase()),
                    kind: spec.names.kind.clone(),
                    namespaced: spec.scope == "Namespaced",
                    short_names: spec.names.short_names.clone().unwrap_or_default(),
                    categories: spec.names.categories.clone().unwrap_or_default(),
                    status_subresource: v.subresources.as_ref().is_some_and(|s| s.status.is_some()),
                    columns: v
                        .additional_printer_columns
                        .iter()
                        .flatten()
                        .map(|c| PrinterColumn {
                            name: c.name.clone(),
                            type_: c.type_.clone(),
                            json_path: c.json_path.clone(),
                            description: c.description.clone().unwrap_or_default(),
                            priority: c.priority.unwrap_or(0),
                        })
                        .collect(),
                    validator,
                    schema: schema.map(Arc::new),
                    storage: format!("{}/{}", spec.group, spec.names.plural),
                    generation: true,
                    custom: true,
                    selectable_fields: v
                        .selectable_fields
                        .iter()
                        .flatten()
                        .map(|f| f.json_path.trim_start_matches('.').to_string())
                        .collect(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::ResourceType;

    #[test]
    fn discovery_names_each_type_as_kube_apiserver_does() {
        for (group, plural, hash, verbs) in [
            ("", "configmaps", "qFsyl6wFWjQ=", 8),
            ("", "namespaces", "Q3oi5N2YM8M=", 7),
            ("", "events", "r2yiGXH7wu8=", 8),
            ("events.k8s.io", "events", "r2yiGXH7wu8=", 8),
            ("coordination.k8s.io", "leases", "gqkMMb/YqFM=", 8),
            (
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                "jfWCUB31mvA=",
                8,
            ),
        ] {
            let rt = ResourceType::builtins()
                .into_iter()
                .find(|t| t.group == group && t.plural == plural)
                .unwrap();
            assert_eq!(rt.storage_version_hash(), hash, "{group}/{plural}");
            assert_eq!(rt.verbs().len(), verbs, "{group}/{plural}");
        }
    }
}

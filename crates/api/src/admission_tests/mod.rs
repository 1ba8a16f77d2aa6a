//! Every admission rule of both CRDs, accepted and rejected, evaluated on the generated CRD
//! schema with the same validator the API emulator uses (OpenAPI checks plus kube's local CEL
//! evaluation). One file per concern; the helpers that build objects and judge verdicts are here.

mod esa_access;
mod esa_inline;
mod esa_spec;
mod ess;
mod schema;
mod stl;

use serde_json::{Value, json};

use super::{
    ClusterEmailSecurityService, EmailSecurityService, ExchangeServiceAccount, SyncTargetList,
};
use exo_admission::{FieldError, SchemaValidator};
use kube::CustomResourceExt;

/// The kind under test: its validator, how a spec becomes a whole object, and verdicts.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// ExchangeServiceAccount `contoso`.
    Esa,
    /// SyncTargetList `vip-users`.
    Stl,
    /// EmailSecurityService `mail-security`.
    Ess,
    /// ClusterEmailSecurityService `mail-security` (cluster-scoped).
    Cess,
}

use Kind::{Cess, Esa, Ess, Stl};

impl Kind {
    fn validator(self) -> SchemaValidator {
        let crd = match self {
            Esa => ExchangeServiceAccount::crd(),
            Stl => SyncTargetList::crd(),
            Ess => EmailSecurityService::crd(),
            Cess => ClusterEmailSecurityService::crd(),
        };
        SchemaValidator::for_crd(&crd, "v1alpha1").unwrap()
    }

    /// A whole object of this kind in namespace `tenants` (cluster-scoped: in none), around
    /// `spec`.
    fn object(self, spec: Value) -> Value {
        let (kind, name) = match self {
            Esa => ("ExchangeServiceAccount", "contoso"),
            Stl => ("SyncTargetList", "vip-users"),
            Ess => ("EmailSecurityService", "mail-security"),
            Cess => ("ClusterEmailSecurityService", "mail-security"),
        };
        let metadata = match self {
            Cess => json!({"name": name}),
            _ => json!({"name": name, "namespace": "tenants"}),
        };
        json!({"apiVersion": "exo-operator.io/v1alpha1", "kind": kind,
               "metadata": metadata, "spec": spec})
    }

    /// Asserts that `spec` is accepted on create, and returns the admitted object.
    #[track_caller]
    fn accepts(self, spec: Value) -> Value {
        accepted(self.validator().admit(&self.object(spec), None))
    }

    /// Asserts that `spec` is rejected on create naming `field`, and returns the error there.
    #[track_caller]
    fn rejects(self, spec: Value, field: &str) -> FieldError {
        rejected(self.validator().admit(&self.object(spec), None), field)
    }

    /// Accepts `base` with `value` set at `path` (below `spec`).
    #[track_caller]
    fn accepts_at(self, base: Value, path: &str, value: Value) -> Value {
        self.accepts(with(base, path, value))
    }

    /// Accepts `base` with each of the strings `values` at `path` (below `spec`).
    #[track_caller]
    fn accepts_each_at(self, base: &Value, path: &str, values: &[&str]) {
        for value in values {
            self.accepts_at(base.clone(), path, json!(value));
        }
    }

    /// Rejects `base` with each of the strings `values` at `path`, naming `spec.<path>`.
    #[track_caller]
    fn rejects_each_at(self, base: &Value, path: &str, values: &[&str]) {
        for value in values {
            self.rejects_at(base.clone(), path, json!(value));
        }
    }

    /// Rejects `base` with `value` set at `path` (below `spec`), naming `spec.<path>`.
    #[track_caller]
    fn rejects_at(self, base: Value, path: &str, value: Value) -> FieldError {
        self.rejects(with(base, path, value), &format!("spec.{path}"))
    }
}

fn api_spec() -> Value {
    json!({
        "tenant": "contoso.onmicrosoft.com",
        "mode": "Api",
        "serviceRef": {"name": "mail-security"}
    })
}

fn inline_spec() -> Value {
    let mut spec = api_spec();
    spec["mode"] = json!("Inline");
    spec["inline"] = json!({"direction": "Inbound"});
    spec
}

/// An application and the Secret of its client secret.
fn application() -> Value {
    json!({
        "clientId": "11111111-2222-3333-4444-555555555555",
        "credentials": {"secretName": "contoso-app"}
    })
}

fn service_spec() -> Value {
    json!({
        "application": application(),
        "mailFlow": {
            "smartHost": "relay.mail-security.example.com",
            "tlsCertificateDomain": "*.mail-security.example.com",
            "serviceIpRanges": ["203.0.113.0/24", "198.51.100.7"]
        }
    })
}

fn stl_spec() -> Value {
    json!({"serviceAccountRef": {"name": "contoso"}, "users": ["alice@contoso.com"]})
}

/// Sets `value` at a dotted path below `spec` (creating objects on the way); `null` removes.
fn with(mut spec: Value, path: &str, value: Value) -> Value {
    let mut cursor = &mut spec;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        cursor = cursor
            .as_object_mut()
            .unwrap()
            .entry(part.to_string())
            .or_insert_with(|| json!({}));
    }
    let last = parts[parts.len() - 1];
    if value.is_null() {
        cursor.as_object_mut().unwrap().remove(last);
    } else {
        cursor[last] = value;
    }
    spec
}

/// Asserts an acceptance, and returns the admitted (defaulted) object.
#[track_caller]
fn accepted(result: Result<Value, Vec<FieldError>>) -> Value {
    match result {
        Ok(v) => v,
        Err(e) => panic!("expected acceptance, got {}", render(&e)),
    }
}

/// Asserts a rejection naming `field`, and returns the error there.
#[track_caller]
fn rejected(result: Result<Value, Vec<FieldError>>, field: &str) -> FieldError {
    match result {
        Ok(_) => panic!("expected a rejection at {field}, got acceptance"),
        Err(errors) => errors
            .iter()
            .find(|e| e.field == field)
            .cloned()
            .unwrap_or_else(|| panic!("expected an error at {field}, got {}", render(&errors))),
    }
}

fn render(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

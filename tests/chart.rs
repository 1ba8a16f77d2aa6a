//! The Helm chart and the container image, checked without Helm or Docker: `values.yaml` against `values.schema.json`, every
//! value documented and used, every value a template reads defined, the static YAML of every
//! template parsed, and the Deployment's hardening and the RBAC's least privilege read from it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/exo-operator")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(chart().join(path)).unwrap()
}

fn values() -> Value {
    serde_saphyr::from_str(&read("values.yaml")).unwrap()
}

fn schema() -> Value {
    serde_json::from_str(&read("values.schema.json")).unwrap()
}

/// A small JSON Schema check (type, properties, additionalProperties false, required, enum,
/// minimum, maximum, minLength): the subset `values.schema.json` uses.
fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let ty = schema["type"].as_str().unwrap_or("");
    let ok = match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => true,
    };
    if !ok {
        errors.push(format!("{path}: not of type {ty}"));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{path}: {value} not one of {allowed:?}"));
    }
    if let (Some(min), Some(v)) = (schema["minimum"].as_f64(), value.as_f64())
        && v < min
    {
        errors.push(format!("{path}: below {min}"));
    }
    if let (Some(max), Some(v)) = (schema["maximum"].as_f64(), value.as_f64())
        && v > max
    {
        errors.push(format!("{path}: above {max}"));
    }
    if let (Some(min), Some(s)) = (schema["minLength"].as_u64(), value.as_str())
        && (s.len() as u64) < min
    {
        errors.push(format!("{path}: shorter than {min}"));
    }
    if let (Some(props), Some(map)) = (schema["properties"].as_object(), value.as_object()) {
        for (k, v) in map {
            match props.get(k) {
                Some(s) => check(s, v, &format!("{path}.{k}"), errors),
                None if schema["additionalProperties"] == false => {
                    errors.push(format!("{path}.{k}: unknown value"))
                }
                None => {}
            }
        }
        for r in schema["required"].as_array().into_iter().flatten() {
            if !map.contains_key(r.as_str().unwrap()) {
                errors.push(format!("{path}.{}: required", r.as_str().unwrap()));
            }
        }
    }
}

/// Dotted paths of the leaves of `values` (maps are descended unless empty).
fn leaves(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(m) if !m.is_empty() && prefix != "resources" => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(v, &p, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

fn templates() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(chart().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The static YAML of a template: directive-only lines dropped, `{{ ... }}` expressions
/// replaced by a placeholder scalar.
fn static_yaml(text: &str) -> String {
    let expr = regex::Regex::new(r"\{\{-?[^}]*-?\}\}").unwrap();
    text.lines()
        .filter(|l| {
            let t = l.trim();
            !(t.starts_with("{{") && t.ends_with("}}"))
        })
        .map(|l| expr.replace_all(l, "placeholder").into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn documents(name: &str) -> Vec<Value> {
    let text = templates().into_iter().find(|(n, _)| n == name).unwrap().1;
    static_yaml(&text)
        .split("\n---")
        .filter_map(|d| serde_saphyr::from_str::<Value>(d).ok())
        .filter(|v| !v.is_null())
        .collect()
}

#[test]
fn values_match_the_schema_and_the_schema_rejects_mistakes() {
    let mut errors = Vec::new();
    check(&schema(), &values(), "", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");

    let mut wrong = values();
    wrong["logFormat"] = "yaml".into();
    wrong["replicaCount"] = "two".into();
    wrong["leaderElection"]["leaseDuraton"] = 15.into();
    let mut errors = Vec::new();
    check(&schema(), &wrong, "", &mut errors);
    assert_eq!(errors.len(), 3, "{errors:?}");
}

#[test]
fn every_value_is_documented_and_every_value_read_exists() {
    let mut known = BTreeSet::new();
    leaves(&values(), "", &mut known);
    let readme = read("README.md");
    for key in &known {
        assert!(
            readme.contains(&format!("| `{key}` |")),
            "{key} is not documented in the chart README"
        );
    }
    let reference = regex::Regex::new(r"\.Values\.([A-Za-z0-9_.]+)").unwrap();
    let mut used = BTreeSet::new();
    for (name, text) in templates() {
        for c in reference.captures_iter(&text) {
            let path = c[1].trim_end_matches('.').to_string();
            assert!(
                known
                    .iter()
                    .any(|k| k == &path || k.starts_with(&format!("{path}."))),
                "{name} reads .Values.{path}, which values.yaml does not define"
            );
            used.insert(path);
        }
    }
    for key in &known {
        assert!(
            used.iter()
                .any(|u| key == u || key.starts_with(&format!("{u}."))),
            "{key} is defined but no template reads it"
        );
    }
}

#[test]
fn every_template_has_valid_static_yaml() {
    let mut kinds = BTreeSet::new();
    for (name, text) in templates() {
        if name.ends_with(".tpl") {
            continue;
        }
        let yaml = static_yaml(&text);
        for doc in yaml.split("\n---") {
            let value: Value =
                serde_saphyr::from_str(doc).unwrap_or_else(|e| panic!("{name}: {e}\n{doc}"));
            if value.is_null() {
                continue;
            }
            assert!(value["apiVersion"].is_string(), "{name}: no apiVersion");
            kinds.insert(value["kind"].as_str().unwrap().to_string());
        }
    }
    for kind in [
        "CustomResourceDefinition",
        "Deployment",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceMonitor",
        "PodDisruptionBudget",
        "NetworkPolicy",
    ] {
        assert!(kinds.contains(kind), "no {kind} in the chart: {kinds:?}");
    }
}

#[test]
fn the_deployment_is_hardened_and_probed() {
    let deployment = &documents("deployment.yaml")[0];
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    let sc = &container["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    let env: Vec<&str> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for name in ["POD_NAME", "POD_NAMESPACE", "EXO_HTTP_ADDR"] {
        assert!(env.contains(&name), "{env:?}");
    }
    // Every variable the chart sets is one `exo-operator run` reads.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_exo-operator"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for name in &env {
        assert!(
            help.contains(&format!("env: {name}")),
            "{name} is not an option of run"
        );
    }
}

#[test]
fn rbac_grants_only_named_verbs() {
    let text = read("templates/rbac.yaml") + &read("templates/_helpers.tpl");
    assert!(!text.contains("\"*\""), "no wildcard verbs or resources");
    for verb in ["deletecollection", "escalate", "bind", "impersonate"] {
        assert!(!text.contains(verb), "{verb} is never needed");
    }
    let leases = text.find("leases").unwrap();
    let guard = text.find(".Values.leaderElection.enabled").unwrap();
    assert!(guard < leases, "Leases only with leader election");
}

#[test]
fn the_image_is_multi_stage_static_non_root_and_holds_the_operator_only() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap();
    let stages: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(stages.len() >= 2, "multi-stage: {stages:?}");
    let last = stages.last().unwrap();
    assert!(last.contains("distroless/static"), "{last}");
    let final_stage = &text[text.rfind("FROM ").unwrap()..];
    assert!(final_stage.contains("USER 65532"), "non-root");
    let copies: Vec<&str> = final_stage
        .lines()
        .filter(|l| l.starts_with("COPY"))
        .collect();
    assert_eq!(copies, ["COPY --from=build /exo-operator /exo-operator"]);
    assert!(
        text.contains("--no-default-features") && text.contains("--bin exo-operator"),
        "built without the simulators"
    );
    assert!(text.contains("musl"), "a static binary");
}

//! DELETE of an object or of a collection: DeleteOptions honoured (dry run, propagation,
//! preconditions), objects held by finalizers only marked, and the answers kube-apiserver
//! gives (a `Status` for an object gone at once, the object while it is held, the list of the
//! objects deleted for a collection).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::Write;
use super::delete_options::DeleteOptions;
use crate::http::ServerState;
use crate::http::request::Call;
use crate::http::response::{json_response, to_wire};
use crate::http::routes::Target;
use crate::lifecycle::{self, Propagation, text_at};
use crate::read::Filter;
use crate::status::ApiError;
use crate::store::Inner;

/// DELETE of one object.
pub fn delete(server: &ServerState, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let options = DeleteOptions::of(call)?;
    let name = t.name();
    let w = Write::new(server, call, t, "delete");
    let mut st = server.store.lock();
    let outcome = delete_one(&mut st, t, &name, &options);
    let code = outcome.as_ref().map(|_| 200).unwrap_or_else(|e| e.code);
    w.audit(&mut st, &name, code, outcome.is_ok() && !options.dry_run);
    drop(st);
    let answer = match outcome? {
        Deleted::Held(object) => to_wire(&t.rt, &object),
        Deleted::Gone(object) => gone_status(t, &object),
    };
    Ok(json_response(StatusCode::OK, &answer))
}

/// What a deletion left.
enum Deleted {
    /// The object, held by finalizers (marked for deletion).
    Held(Value),
    /// The object, gone.
    Gone(Value),
}

impl Deleted {
    fn object(self) -> Value {
        match self {
            Self::Held(o) | Self::Gone(o) => o,
        }
    }
}

fn delete_one(
    st: &mut Inner,
    t: &Target,
    name: &str,
    options: &DeleteOptions,
) -> Result<Deleted, ApiError> {
    let key = t.key_of(name);
    let object = st
        .object(&t.rt, &key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&t.rt.qualified(), name))?;
    check_preconditions(t, &object, options)?;
    let policy = options.propagation.unwrap_or(Propagation::Background);
    if object.pointer("/metadata/deletionTimestamp").is_some() {
        return Ok(Deleted::Held(object));
    }
    if options.dry_run {
        return Ok(
            match lifecycle::marked_for_deletion(&t.rt, &object, policy) {
                Some(marked) => Deleted::Held(marked),
                None => Deleted::Gone(object),
            },
        );
    }
    let deleted = lifecycle::delete_with(st, &t.rt, &key, policy)
        .ok_or_else(|| ApiError::not_found(&t.rt.qualified(), name))?;
    Ok(
        if deleted.pointer("/metadata/deletionTimestamp").is_some() {
            Deleted::Held(deleted)
        } else {
            Deleted::Gone(deleted)
        },
    )
}

/// 409 when a precondition of `options` does not hold for `object`.
fn check_preconditions(
    t: &Target,
    object: &Value,
    options: &DeleteOptions,
) -> Result<(), ApiError> {
    let checks = [
        (
            "UID",
            options.uid.as_deref(),
            "/metadata/uid",
            "deleted and then recreated",
        ),
        (
            "ResourceVersion",
            options.resource_version.as_deref(),
            "/metadata/resourceVersion",
            "modified",
        ),
    ];
    for (what, wanted, pointer, happened) in checks {
        let actual = text_at(object, pointer);
        if let Some(wanted) = wanted
            && wanted != actual
        {
            let mut details = json!({"name": t.name(), "kind": t.rt.kind});
            if !t.rt.group.is_empty() {
                details["group"] = json!(t.rt.group);
            }
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{}\": the {what} in the precondition ({wanted}) does not match the {what} in record ({actual}). The object might have been {happened}",
                    t.rt.qualified_kind(),
                    t.name()
                ),
            )
            .with_details(details));
        }
    }
    Ok(())
}

/// The `Status` answering a deletion that removed `object` at once.
fn gone_status(t: &Target, object: &Value) -> Value {
    let mut details = json!({
        "name": text_at(object, "/metadata/name"),
        "kind": t.rt.plural,
        "uid": text_at(object, "/metadata/uid"),
    });
    if !t.rt.group.is_empty() {
        details["group"] = json!(t.rt.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

/// DELETE of every selected object of a collection, each audited as a delete; answers the
/// list of the objects deleted.
pub fn delete_collection(
    server: &ServerState,
    call: &Call,
    t: &Target,
) -> Result<Response, ApiError> {
    let filter = Filter::from(call, t)?;
    let options = DeleteOptions::of(call)?;
    let w = Write::new(server, call, t, "delete");
    let mut st = server.store.lock();
    let keys: Vec<(String, String)> = st
        .objects
        .get(&t.rt.storage)
        .map(|m| {
            m.iter()
                .filter(|(_, o)| filter.matches(&t.rt, o))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut items = Vec::new();
    for key in keys {
        if let Ok(deleted) = delete_one(&mut st, t, &key.1, &options) {
            items.push(list_item(t, deleted.object()));
        }
        w.audit(&mut st, &key.1, 200, !options.dry_run);
    }
    let rv = st.rv.to_string();
    drop(st);
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "kind": format!("{}List", t.rt.kind),
            "apiVersion": t.rt.api_version(),
            "metadata": {"resourceVersion": rv},
            "items": items,
        }),
    ))
}

/// An object as an item of a list: built-in kinds' items carry no apiVersion and kind.
fn list_item(t: &Target, object: Value) -> Value {
    let mut item = to_wire(&t.rt, &object);
    if t.rt.validator.is_none()
        && let Some(m) = item.as_object_mut()
    {
        m.remove("apiVersion");
        m.remove("kind");
    }
    item
}

//! DELETE of an object or of a collection (objects with finalizers are only marked).

use axum::http::StatusCode;
use axum::response::Response;

use super::{Write, Written};
use crate::http::ServerState;
use crate::http::request::Call;
use crate::http::response::{json_response, success_status};
use crate::http::routes::Target;
use crate::lifecycle::delete_stored;
use crate::read::Filter;
use crate::status::ApiError;

/// DELETE of one object; a dry run only looks it up.
pub fn delete(server: &ServerState, call: &Call, t: &Target) -> Result<Response, ApiError> {
    let name = t.name();
    let w = Write::new(server, call, t, "delete");
    w.perform(&name, |st| {
        let key = t.key_of(&name);
        let found = if call.dry_run() {
            st.object(&t.rt, &key).cloned()
        } else {
            delete_stored(st, &t.rt, &key)
        };
        let object = found.ok_or_else(|| ApiError::not_found(&t.rt.qualified(), &name))?;
        Ok(Written {
            object,
            changed: true,
            created: false,
        })
    })
}

/// DELETE of every selected object of a collection, each audited as a delete.
pub fn delete_collection(
    server: &ServerState,
    call: &Call,
    t: &Target,
) -> Result<Response, ApiError> {
    let filter = Filter::from(call, t)?;
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
    for key in keys {
        delete_stored(&mut st, &t.rt, &key);
        w.audit(&mut st, &key.1, 200, true);
    }
    drop(st);
    Ok(json_response(StatusCode::OK, &success_status()))
}

//! Exchange Online admin API: `POST /adminapi/beta/{tenant}/InvokeCommand` with the cmdlets an
//! inline-mode grant needs (connectors, transport rules, the connection filter policy,
//! mail-enabled security groups and their members), per-cmdlet parameter validation with
//! Exchange's error bodies, the role checks (403 with an empty body) and re-POST paging.

mod cmdlets;
mod objects;
mod parameters;
mod validation;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

pub use self::validation::valid_ip_entry;
use crate::Sim;
use crate::bearer::{self, Claims};
use crate::errors;
use crate::ids::{EXCHANGE_ADMINISTRATOR, EXCHANGE_APP_ID, GLOBAL_ADMINISTRATOR};
use crate::state::{Tenant, World};
use exo_sim_http::ids::uuid_v4;

/// One cmdlet call, its parameters bound, with the objects of the type it works on.
struct Invocation<'a> {
    /// The simulator's base URL (for links).
    base: &'a str,
    /// The tenant as named in the URL.
    tenant_name: &'a str,
    headers: &'a HeaderMap,
    raw_query: Option<&'a str>,
    now: jiff::Timestamp,
    /// The object type (`InboundConnector`, `DistributionGroup`, …).
    kind: &'a str,
    /// The bound parameters.
    args: Map<String, Value>,
    /// The tenant before the cmdlet (lookups and cross-object checks).
    snapshot: Tenant,
    /// The tenant's objects of `kind`: name → object.
    objects: &'a mut BTreeMap<String, Value>,
}

/// 401 with `WWW-Authenticate: Bearer` and no body.
fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [("www-authenticate", "Bearer")],
        "",
    )
        .into_response()
}

/// Whether the app may run cmdlets: the `Exchange.ManageAsApp` role and an Exchange or Global
/// Administrator directory role.
fn may_manage(claims: &Claims) -> bool {
    claims.lists_any("roles", &["Exchange.ManageAsApp"])
        && claims.lists_any("wids", &[EXCHANGE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR])
}

/// The Exchange admin API's route.
pub fn routes() -> Router<Arc<Sim>> {
    Router::new().route("/adminapi/beta/{tenant}/InvokeCommand", post(invoke))
}

/// `POST /adminapi/beta/{tenant}/InvokeCommand`.
async fn invoke(
    State(sim): State<Arc<Sim>>,
    Path(tenant_name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: String,
) -> Response {
    let Ok((claims, mut world)) =
        bearer::verify(&sim, bearer::bearer_token(&headers), EXCHANGE_APP_ID)
    else {
        return unauthorized();
    };
    let now = world.now();
    if world
        .tenant(&tenant_name)
        .is_none_or(|t| t.id != claims.str("tid"))
    {
        return unauthorized();
    }
    if !may_manage(&claims) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    let name = request["CmdletInput"]["CmdletName"].as_str().unwrap_or("");
    let Some(cmdlet) = cmdlets::find(name) else {
        return errors::exchange(
            400,
            "BadRequest",
            "Ex9A1B2C",
            "System.Management.Automation.CommandNotFoundException",
            &format!(
                "The term '{name}' is not recognized as a name of a cmdlet, function, script file, or executable program."
            ),
        );
    };
    let params = request["CmdletInput"]["Parameters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let args = match parameters::bind(&(cmdlet.parameters)(), &params) {
        Ok(args) => args,
        Err(refusal) => return refusal,
    };
    let noun = name.split_once('-').map(|(_, noun)| noun).unwrap_or("");
    let kind = match noun {
        "DistributionGroupMember" => "DistributionGroup",
        other => other,
    };
    let (snapshot, objects) = objects_of(&mut world, &tenant_name, kind);
    let mut invocation = Invocation {
        base: &sim.base_url,
        tenant_name: &tenant_name,
        headers: &headers,
        raw_query: raw.as_deref(),
        now,
        kind,
        args,
        snapshot,
        objects,
    };
    (cmdlet.run)(&mut invocation)
}

/// The tenant (a snapshot) and its objects of `kind`; the connection filter policy always has
/// its `Default`.
fn objects_of<'w>(
    world: &'w mut World,
    tenant_name: &str,
    kind: &str,
) -> (Tenant, &'w mut BTreeMap<String, Value>) {
    let tenant = world.tenant_mut(tenant_name).expect("checked");
    if kind == "HostedConnectionFilterPolicy" {
        tenant.exchange.entry(kind.into()).or_default().entry("Default".into()).or_insert_with(|| json!({"Identity": "Default", "Name": "Default", "Guid": uuid_v4(), "IPAllowList": [], "IPBlockList": [], "EnableSafeList": false, "IsDefault": true}));
    }
    let snapshot = tenant.clone();
    (
        snapshot,
        tenant.exchange.entry(kind.to_string()).or_default(),
    )
}

impl Invocation<'_> {
    /// The `Identity` parameter (empty when absent).
    fn identity(&self) -> &str {
        self.args
            .get("Identity")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The name of the object `Identity` names, or Exchange's 404.
    fn find_identity(&self) -> Result<String, Response> {
        let id = self.identity();
        objects::find(self.objects, id)
            .cloned()
            .ok_or_else(|| objects::not_found(id, &self.snapshot))
    }

    /// The reply: `values` in Exchange's envelope, with a link to the next page.
    fn reply(&self, values: Vec<Value>, next: Option<String>) -> Response {
        let mut body = json!({
            "@odata.context": format!("{}/adminapi/beta/{}/$metadata#Collection(Exchange.GenericHashTable)", self.base, self.tenant_name),
            "adminapi.warnings@odata.type": "#Collection(String)",
            "@adminapi.warnings": [],
            "value": values.iter().map(objects::annotate).collect::<Vec<_>>(),
        });
        if let Some(n) = next {
            body["@odata.nextLink"] = json!(n);
        }
        (StatusCode::OK, axum::Json(body)).into_response()
    }

    /// The reply of a cmdlet that changes objects (no values).
    fn done(&self) -> Response {
        self.reply(vec![], None)
    }
}

//! Bearer access tokens presented to the simulated APIs (Graph, Exchange, Management): taken
//! from the `Authorization` header, verified against the simulator's key, and checked for
//! expiry and audience. Each API words the refusal its own way.

use std::sync::MutexGuard;

use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::Sim;
use crate::ids::resource_of;
use crate::state::World;

/// Why a bearer token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Missing, malformed or not signed by the simulator.
    Invalid,
    /// Past its `exp`.
    Expired,
    /// Issued for another resource.
    WrongAudience,
}

/// The token of an `Authorization: Bearer …` header, as sent.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The claims of a verified access token.
pub struct Claims(Value);

impl Claims {
    /// A string claim (empty when absent).
    pub fn str(&self, name: &str) -> &str {
        self.0.get(name).and_then(Value::as_str).unwrap_or("")
    }

    /// The strings of an array claim (`roles`, `wids`).
    pub fn list(&self, name: &str) -> Vec<&str> {
        self.0
            .get(name)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// Whether the array claim `name` holds any of `values`.
    pub fn lists_any(&self, name: &str, values: &[&str]) -> bool {
        self.list(name).iter().any(|v| values.contains(v))
    }

    /// The delegated scopes (`scp`, space-separated).
    pub fn scopes(&self) -> Vec<&str> {
        self.str("scp").split_whitespace().collect()
    }
}

/// Verifies `token`, locks the world, and checks that the token is unexpired and meant for
/// `resource_app`. The world stays locked for the request.
pub fn verify<'a>(
    sim: &'a Sim,
    token: Option<&str>,
    resource_app: &str,
) -> Result<(Claims, MutexGuard<'a, World>), Refusal> {
    let claims = token
        .and_then(|t| sim.signer.verify(t))
        .ok_or(Refusal::Invalid)?;
    let world = sim.world.lock().unwrap();
    if claims.get("exp").and_then(Value::as_i64).unwrap_or(0) <= world.now().as_second() {
        return Err(Refusal::Expired);
    }
    let claims = Claims(claims);
    if resource_of(claims.str("aud")) != Some(resource_app) {
        return Err(Refusal::WrongAudience);
    }
    Ok((claims, world))
}

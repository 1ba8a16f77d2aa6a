//! The figures' lower bounds (what the operator cannot do with less) and the summary table.

use serde_json::{Value, json};

use crate::USERS_PER_LIST;

/// Latency added to every Microsoft call in the critical-path scenario.
pub const LATENCY_MS: u64 = 50;

/// The fewest API-server writes one account of the fleet needs: its finalizer, its status,
/// its list's status, and the two Events of a first success (`Synced`, `Ready`).
const WRITES_MINIMUM: f64 = 5.0;

/// The fewest Microsoft calls one account of the fleet needs: a token, the app's service
/// principal, its app-role assignments, one lookup per listed user, and the domains. (The
/// operator also looks up Microsoft Graph's service principal, concurrently, to tell Graph's
/// assignments from others': one call above this bound.)
fn calls_minimum() -> f64 {
    (1 + 1 + 1 + USERS_PER_LIST + 1) as f64
}

/// The longest chain of Microsoft calls that must run one after another before an account is
/// Ready: token, then the app's service principal, then its app-role assignments (the list's
/// users and the domains need only the token and run meanwhile).
const CRITICAL_CHAIN: u64 = 3;

/// The longest chain of Microsoft calls before an inline account (Inbound, scope All, the role
/// already held) is Ready: the three of the grant (token, service principal, app-role
/// assignments: nothing is written to the tenant before the grant is confirmed), then the reads
/// of what the tenant has (connectors, rules, allow list: concurrently), the connector to the
/// service, the routing rule that names it, the skip-spam rule ranked after it, and the
/// read-back that verifies the security settings (concurrently). The Exchange token, the domains
/// and the directory need only their tokens and run meanwhile.
const INLINE_CHAIN: u64 = 3 + 1 + 3 + 1;

/// The fewest Microsoft calls of that inline account: Graph token, service principal, app-role
/// assignments, users, groups and domains (the directory of scope All), the Exchange token,
/// four reads (outbound and inbound connectors, transport rules, connection filter), four
/// creates (two connectors, two rules), the allow-list update, and three reads to verify.
const INLINE_CALLS_MINIMUM: f64 = (6 + 1 + 4 + 4 + 1 + 3) as f64;

/// The fewest API-server writes of that inline account: its finalizer, the directory
/// ConfigMap, the routing-token Secret, the record of the Exchange objects it is about to
/// create (so none is lost on a fault), its status, and the two Events of a first success.
const INLINE_WRITES_MINIMUM: f64 = 7.0;

/// One row per figure: value, target, lower bound and ratio.
pub fn summary(
    fleet: &Value,
    directory: &Value,
    critical: &Value,
    baseline: &Value,
    inline: &Value,
) -> Vec<Value> {
    // Over 80 lines on purpose: the report table, one row a figure, in the order BENCHMARKS.md prints it.
    let row = |figure: &str, value: &Value, target: &str, bound: Option<f64>| {
        let ratio = match (value.as_f64(), bound) {
            (Some(v), Some(b)) if b > 0.0 => json!(v / b),
            _ => Value::Null,
        };
        json!({"figure": figure, "value": value, "target": target, "lower_bound": bound, "ratio": ratio})
    };
    let chain_s = (CRITICAL_CHAIN * LATENCY_MS) as f64 / 1000.0;
    vec![
        row(
            "fleet: time until all Ready (s)",
            &fleet["time_to_all_ready_s"],
            "under 20 s",
            None,
        ),
        row(
            "fleet: operator peak RSS (MiB)",
            &fleet["operator_peak_rss_mib"],
            "under 100 MiB",
            None,
        ),
        row(
            "fleet: API-server writes per account",
            &fleet["writes_per_account"],
            "ratio 1.0",
            Some(WRITES_MINIMUM),
        ),
        row(
            "fleet: Microsoft calls per account",
            &fleet["microsoft_calls_per_account"],
            "ratio at most 1.2",
            Some(calls_minimum()),
        ),
        row(
            "steady: writes",
            &fleet["steady_writes"],
            "only token-expiry updates",
            None,
        ),
        row(
            "steady: Microsoft calls",
            &fleet["steady_microsoft_calls"],
            "only scheduled refreshes",
            None,
        ),
        row(
            "steady: operator CPU (% of a core)",
            &fleet["steady_cpu_percent_of_a_core"],
            "under 1",
            None,
        ),
        row(
            "directory: full sync (s)",
            &directory["full_sync_s"],
            "",
            None,
        ),
        row(
            "directory: Graph requests",
            &directory["graph_directory_requests"],
            "minimum (pages of 999)",
            directory["graph_directory_requests_minimum"].as_f64(),
        ),
        row(
            "directory: deliveries to the service",
            &directory["delivery_requests"],
            "within 1.1 of the minimum",
            directory["delivery_requests_minimum"].as_f64(),
        ),
        row(
            "directory: operator peak RSS growth (MiB)",
            &directory["operator_peak_rss_growth_mib"],
            "under 64 MiB",
            None,
        ),
        row(
            "directory: incremental sync requests",
            &directory["incremental_requests"],
            "at most 4",
            // One delta page of users and one of groups: 100 changes fit in a page of 999.
            Some(2.0),
        ),
        row(
            "directory: changes delivered after 100",
            &directory["incremental_changes_delivered"],
            "exactly 100",
            Some(100.0),
        ),
        row(
            "directory: incremental sync (s)",
            &directory["incremental_sync_s"],
            "",
            None,
        ),
        row(
            "critical path: apply to Ready (s)",
            &critical["apply_to_ready_s"],
            "ratio at most 1.2",
            Some(chain_s),
        ),
        row(
            "critical path: Microsoft calls",
            &critical["microsoft_calls"],
            "",
            None,
        ),
        row(
            "critical path without latency (s)",
            &baseline["apply_to_ready_s"],
            "",
            None,
        ),
        row(
            "inline: apply to Ready (s)",
            &inline["apply_to_ready_s"],
            "ratio at most 1.2",
            Some((INLINE_CHAIN * LATENCY_MS) as f64 / 1000.0),
        ),
        row(
            "inline: Microsoft calls",
            &inline["microsoft_calls"],
            "ratio at most 1.2",
            Some(INLINE_CALLS_MINIMUM),
        ),
        row(
            "inline: API-server writes",
            &inline["writes"],
            "ratio 1.0",
            Some(INLINE_WRITES_MINIMUM),
        ),
    ]
}

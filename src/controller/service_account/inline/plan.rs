//! The plan of a pass, pure: which desired objects to create, adopt, correct or leave, which
//! owned objects to remove, and the allow-list change.

use std::collections::BTreeMap;

use serde_json::Value;

use super::desired::{DesiredObject, Kind, Mark, Owner};
use super::session::name_of;
use super::{desired, not_configured};
use crate::controller::conditions::{
    MAIL_FLOW_CONFIGURED, MAIL_FLOW_DRIFTED, SECURITY_SETTINGS_VERIFIED,
};
use crate::controller::service_account::decide::InlineCheck;
use exo_api::exchange_service_account::MailFlowStatus;

/// What the tenant has, read at the start of a pass.
pub(super) struct Current {
    pub(super) objects: BTreeMap<Kind, Vec<Value>>,
    pub(super) allow: Vec<String>,
}

/// What a pass does with one wanted object.
#[derive(Debug, PartialEq)]
pub(super) enum Step {
    /// Create it (`recreate`: it was owned, and deleted outside the operator).
    Create { recreate: bool },
    /// Set these fields back.
    Correct(Vec<String>),
    /// Leave it (a group's members are still brought in line).
    Keep,
    /// Leave it alone entirely (a name conflict, or a deletion only reported).
    Skip,
}

/// A pass decided from what the tenant has: a step per wanted object, in order.
#[derive(Debug, Default)]
pub(super) struct Plan {
    pub(super) steps: Vec<Step>,
    /// Objects to record in `status.mailFlow.pending` before they are created, in order.
    pub(super) new_ids: Vec<String>,
    /// Whether any object is created.
    pub(super) creates: bool,
    pub(super) drift: Vec<String>,
    pub(super) conflicts: Vec<String>,
    /// Observing: objects found under the desired names with no account's marker, to be
    /// adopted under `Manage`.
    pub(super) adoptable: Vec<String>,
}

/// The plan of a pass. An object is the account's when status lists it as created, or as
/// pending (recorded before its creation, which a kill may have interrupted), and no other
/// account's marker is on it; an object marked as the account's is adopted. Only an object
/// that was created (not one still pending) and is gone is drift. An unmarked object is
/// adoptable while `observing`, and adopted once it was found so (`status.adoptable`).
pub(super) fn make_plan(
    wanted: &[DesiredObject],
    current: &Current,
    status: &MailFlowStatus,
    owner: &Owner<'_>,
    report: bool,
    observing: bool,
) -> Plan {
    let mut plan = Plan::default();
    for object in wanted {
        let id = object.id();
        let created = status.objects.contains(&id);
        let pending = status.pending.contains(&id);
        let found = current.objects.get(&object.kind).and_then(|l| {
            l.iter()
                .find(|o| name_of(o).eq_ignore_ascii_case(&object.name))
        });
        let step = match found {
            None if created && report => {
                plan.drift.push(format!("{id}: deleted"));
                Step::Skip
            }
            None => {
                if !created && !pending {
                    plan.new_ids.push(id);
                }
                plan.creates = true;
                Step::Create { recreate: created }
            }
            Some(actual) => {
                let mark = object
                    .kind
                    .comment_field()
                    .and_then(|f| actual.get(f).and_then(Value::as_str))
                    .map_or(Mark::None, |c| owner.recognise(c));
                let adoptable = !created && !pending && matches!(mark, Mark::None);
                if adoptable && observing {
                    plan.adoptable.push(id.clone());
                }
                let ours = match &mark {
                    Mark::Mine => true,
                    Mark::Another(_) => false,
                    Mark::None => created || pending || observing || status.adoptable.contains(&id),
                };
                if !ours {
                    plan.conflicts.push(match mark {
                        Mark::Another(account) => format!("{id} (managed by {account})"),
                        _ => id,
                    });
                    Step::Skip
                } else {
                    let fields = desired::differences(object, actual);
                    if fields.is_empty() {
                        Step::Keep
                    } else if report && !pending {
                        // A pending object is still the operator's creation (a kill may have
                        // cut it short between its cmdlets): it is finished, never drift.
                        plan.drift.push(format!("{id}: {}", fields.join(", ")));
                        Step::Keep
                    } else {
                        Step::Correct(fields)
                    }
                }
            }
        };
        plan.steps.push(step);
    }
    plan
}

/// The change to the connection-filter allow list: the service's ranges merged in, the
/// operator's former entries taken out, other entries never touched.
#[derive(Debug, Default, PartialEq)]
pub(super) struct AllowChange {
    pub(super) add: Vec<String>,
    /// Entries recorded as pending and found in the list (added before a kill): the
    /// operator's.
    pub(super) adopt: Vec<String>,
    pub(super) remove: Vec<String>,
    pub(super) drift: Vec<String>,
}

/// Prefix of the allow-list entries in the intent log.
pub(super) const PENDING_ENTRY: &str = "IPAllowList/";

/// The key of an allow-list entry in the intent log.
pub(super) fn pending_entry(ip: &str) -> String {
    format!("{PENDING_ENTRY}{ip}")
}

/// The allow-list entries the intent log holds as pending.
pub(super) fn pending_entries(status: &MailFlowStatus) -> Vec<String> {
    status
        .pending
        .iter()
        .filter_map(|p| p.strip_prefix(PENDING_ENTRY))
        .map(String::from)
        .collect()
}

/// The objects the account created or is about to create (`Kind/Name`), each once, in
/// removal order: rules, then connectors, then groups.
pub(super) fn owned_objects(status: &MailFlowStatus) -> Vec<String> {
    let pending = status
        .pending
        .iter()
        .filter(|p| !p.starts_with(PENDING_ENTRY));
    let mut ids: Vec<String> = status.objects.iter().chain(pending).cloned().collect();
    // Adopted objects were not created by the operator: they are released, never deleted.
    ids.retain(|id| !status.adopted.contains(id));
    ids.sort();
    ids.dedup();
    ids.sort_by_key(|id| std::cmp::Reverse(removal_rank(id)));
    ids
}

pub(super) fn allow_list_change(
    ips: &[String],
    allow: &[String],
    status: &MailFlowStatus,
    report: bool,
) -> AllowChange {
    let entries = &status.allow_list_entries;
    let pending = pending_entries(status);
    let mut change = AllowChange::default();
    for ip in ips {
        if has(allow, ip) {
            if has(&pending, ip) && !has(entries, ip) {
                change.adopt.push(ip.clone());
            }
            continue;
        }
        if has(entries, ip) && !has(&pending, ip) && report {
            change.drift.push(format!(
                "HostedConnectionFilterPolicy/Default: IPAllowList lacks {ip}"
            ));
        } else {
            change.add.push(ip.clone());
        }
    }
    change.remove = entries
        .iter()
        .chain(pending.iter().filter(|p| !has(entries, p)))
        .filter(|e| !has(ips, e) && has(allow, e))
        .cloned()
        .collect();
    change
}

pub(super) fn has(list: &[String], ip: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(ip))
}

/// Removal order: rules, then connectors, then groups.
pub(super) fn removal_rank(id: &str) -> u8 {
    match id.split_once('/').map(|(k, _)| k) {
        Some("TransportRule") => 3,
        Some("OutboundConnector" | "InboundConnector") => 2,
        _ => 1,
    }
}

/// What a completed pass did and found, for its checks.
pub(super) struct PassResult<'a> {
    /// How many objects are wanted.
    pub(super) wanted: usize,
    /// Ids of the objects created.
    pub(super) created: &'a [String],
    /// Names taken by objects the operator does not own.
    pub(super) conflicts: &'a [String],
    /// Security checks that failed.
    pub(super) failed: &'a [String],
    /// Owned objects changed outside the operator (drift policy Report).
    pub(super) drift: &'a [String],
}

/// The pass's checks: `MailFlowConfigured`, `SecuritySettingsVerified`, `MailFlowDrifted`.
pub(super) fn mail_flow_checks(pass: &PassResult<'_>) -> Vec<InlineCheck> {
    let configured = if !pass.conflicts.is_empty() {
        not_configured(
            "NameConflict",
            format!(
                "Objects with these names exist and were not created by this account: {}. Rename them, choose another spec.inline.mailFlow.namePrefix, or delete the account that manages them.",
                pass.conflicts.join(", ")
            ),
        )
        .needing_a_human()
    } else if !pass.drift.is_empty() {
        not_configured(
            "DriftReported",
            format!(
                "The tenant's mail flow differs from the desired state, and drift policy Report leaves it to a human: {}. Restore it (then request a sync) or set driftPolicy Correct.",
                pass.drift.join("; ")
            ),
        )
        .needing_a_human()
    } else {
        let what = if pass.created.is_empty() {
            format!("{} Exchange objects match the desired state.", pass.wanted)
        } else {
            format!(
                "{} Exchange objects configured; created {}.",
                pass.wanted,
                pass.created.join(", ")
            )
        };
        InlineCheck::positive(MAIL_FLOW_CONFIGURED, true, "Configured", what)
    };
    let verified = if pass.failed.is_empty() {
        InlineCheck::positive(
            SECURITY_SETTINGS_VERIFIED,
            true,
            "Verified",
            "Enhanced filtering, the allow list, rule order and mail domains are right.".into(),
        )
    } else {
        InlineCheck::positive(
            SECURITY_SETTINGS_VERIFIED,
            false,
            "ChecksFailed",
            pass.failed.join("; "),
        )
    };
    let drifted = pass.drift.is_empty();
    let drift = InlineCheck {
        type_: MAIL_FLOW_DRIFTED,
        status: !drifted,
        healthy: drifted,
        reason: if drifted { "InSync" } else { "Drifted" }.into(),
        message: if drifted {
            "Owned Exchange objects match the desired state.".into()
        } else {
            format!(
                "Changed outside the operator (drift policy Report, nothing was changed): {}",
                pass.drift.join("; ")
            )
        },
        needs_human: false,
    };
    vec![configured, verified, drift]
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::super::session::params;

    use super::*;

    fn object(kind: Kind, name: &str) -> DesiredObject {
        DesiredObject {
            kind,
            name: name.into(),
            params: params(json!({"Enabled": true})),
            create_only: Map::new(),
            members: None,
        }
    }

    fn tenant(objects: Vec<(Kind, Value)>) -> Current {
        let mut current = Current {
            objects: BTreeMap::new(),
            allow: Vec::new(),
        };
        for (kind, o) in objects {
            current.objects.entry(kind).or_default().push(o);
        }
        current
    }

    #[test]
    fn a_plan_creates_adopts_corrects_and_leaves_others_objects_alone() {
        let wanted = [
            object(Kind::OutboundConnector, "new"),
            object(Kind::InboundConnector, "marked"),
            object(Kind::InboundConnector, "foreign"),
            object(Kind::TransportRule, "owned"),
        ];
        let current = tenant(vec![
            (
                Kind::InboundConnector,
                json!({"Name": "Marked", "Enabled": true, "Comment": OWNER.marker()}),
            ),
            (
                Kind::InboundConnector,
                json!({"Name": "foreign", "Enabled": true, "Comment": "theirs"}),
            ),
            (
                Kind::TransportRule,
                json!({"Name": "owned", "Enabled": false}),
            ),
        ]);
        let status = MailFlowStatus {
            objects: vec!["TransportRule/owned".into()],
            ..Default::default()
        };
        let p = make_plan(&wanted, &current, &status, &OWNER, false, false);
        assert_eq!(
            p.steps,
            [
                Step::Create { recreate: false },
                Step::Keep,
                Step::Skip,
                Step::Correct(vec!["Enabled".into()]),
            ]
        );
        assert_eq!(p.new_ids, ["OutboundConnector/new"]);
        assert!(p.creates);
        assert_eq!(p.conflicts, ["InboundConnector/foreign"]);
        assert!(p.drift.is_empty());

        // Drift policy Report: nothing is set back or re-created, everything is named.
        let gone = tenant(vec![(
            Kind::TransportRule,
            json!({"Name": "owned", "Enabled": false}),
        )]);
        let status = MailFlowStatus {
            objects: vec!["TransportRule/owned".into(), "OutboundConnector/new".into()],
            ..Default::default()
        };
        let p = make_plan(&wanted[..1], &gone, &status, &OWNER, true, false);
        assert_eq!(p.steps, [Step::Skip]);
        assert!(!p.creates);
        assert_eq!(p.drift, ["OutboundConnector/new: deleted"]);
        let p = make_plan(&wanted[3..], &gone, &status, &OWNER, true, false);
        assert_eq!(p.steps, [Step::Keep]);
        assert_eq!(p.drift, ["TransportRule/owned: Enabled"]);
    }

    const OWNER: Owner<'static> = Owner {
        account: "d/a",
        uid: "u-1",
    };

    #[test]
    fn a_pending_object_cut_short_between_its_cmdlets_is_finished_under_either_policy() {
        let wanted = [object(Kind::InboundConnector, "half-made")];
        let current = tenant(vec![(
            Kind::InboundConnector,
            json!({"Name": "half-made", "Enabled": false, "Comment": OWNER.marker()}),
        )]);
        let status = MailFlowStatus {
            pending: vec!["InboundConnector/half-made".into()],
            ..Default::default()
        };
        for report in [false, true] {
            let p = make_plan(&wanted, &current, &status, &OWNER, report, false);
            assert_eq!(
                p.steps,
                [Step::Correct(vec!["Enabled".into()])],
                "report {report}"
            );
            assert!(p.drift.is_empty(), "report {report}: {:?}", p.drift);
        }
    }

    #[test]
    fn pending_objects_are_created_or_adopted_and_never_drift_and_anothers_are_left_alone() {
        let wanted = [
            object(Kind::OutboundConnector, "pending-missing"),
            object(Kind::InboundConnector, "pending-there"),
            object(Kind::TransportRule, "theirs"),
            object(Kind::TransportRule, "created-theirs"),
        ];
        let another = Owner {
            account: "d/a",
            uid: "u-2",
        };
        let current = tenant(vec![
            (
                Kind::InboundConnector,
                json!({"Name": "pending-there", "Enabled": true, "Comment": OWNER.marker()}),
            ),
            (
                Kind::TransportRule,
                json!({"Name": "theirs", "Enabled": true, "Comments": another.marker()}),
            ),
            (
                Kind::TransportRule,
                json!({"Name": "created-theirs", "Enabled": true, "Comments": another.marker()}),
            ),
        ]);
        let status = MailFlowStatus {
            objects: vec!["TransportRule/created-theirs".into()],
            pending: vec![
                "OutboundConnector/pending-missing".into(),
                "InboundConnector/pending-there".into(),
            ],
            ..Default::default()
        };
        for report in [false, true] {
            let p = make_plan(&wanted, &current, &status, &OWNER, report, false);
            assert_eq!(
                p.steps,
                [
                    Step::Create { recreate: false },
                    Step::Keep,
                    Step::Skip,
                    Step::Skip
                ],
                "report {report}"
            );
            assert!(p.new_ids.is_empty(), "already recorded");
            assert!(p.drift.is_empty(), "report {report}: {:?}", p.drift);
            assert_eq!(
                p.conflicts,
                [
                    "TransportRule/theirs (managed by d/a)",
                    "TransportRule/created-theirs (managed by d/a)"
                ]
            );
        }
    }

    #[test]
    fn the_allow_list_change_adds_ours_removes_our_former_entries_and_keeps_theirs() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let recorded = |entries: &[&str], pending: &[&str]| MailFlowStatus {
            allow_list_entries: s(entries),
            pending: pending.iter().map(|ip| pending_entry(ip)).collect(),
            ..Default::default()
        };
        let change = allow_list_change(
            &s(&["203.0.113.0/24", "198.51.100.10"]),
            &s(&["192.0.2.1", "198.51.100.10", "198.51.100.99"]),
            &recorded(&["198.51.100.10", "198.51.100.99"], &[]),
            false,
        );
        assert_eq!(change.add, s(&["203.0.113.0/24"]));
        assert_eq!(change.remove, s(&["198.51.100.99"]));
        assert!(change.drift.is_empty());
        // Reported, not restored: an entry of ours taken out by someone else.
        let ips = s(&["203.0.113.0/24"]);
        let change = allow_list_change(&ips, &[], &recorded(&["203.0.113.0/24"], &[]), true);
        assert!(change.add.is_empty());
        assert_eq!(
            change.drift,
            ["HostedConnectionFilterPolicy/Default: IPAllowList lacks 203.0.113.0/24"]
        );
        // Recorded but never added (a kill in between): added, not drift.
        let change = allow_list_change(&ips, &[], &recorded(&[], &["203.0.113.0/24"]), true);
        assert_eq!(change.add, ips);
        assert!(change.drift.is_empty());
        // Recorded and added, then a kill before the status said so: the operator's, and a
        // pending entry no longer wanted is taken out.
        let pending = recorded(&[], &["203.0.113.0/24", "198.51.100.7"]);
        let listed = s(&["203.0.113.0/24", "198.51.100.7", "192.0.2.1"]);
        let change = allow_list_change(&ips, &listed, &pending, false);
        assert!(change.add.is_empty());
        assert_eq!(change.adopt, ips);
        assert_eq!(change.remove, s(&["198.51.100.7"]));
    }

    #[test]
    fn a_pass_reports_what_it_created_conflicts_checks_and_drift() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // (created, conflicts, failed, drift) → (configured reason, verified, drifted, human)
        let table = [
            (
                vec![],
                vec![],
                vec![],
                vec![],
                ("Configured", true, false, false),
            ),
            (
                vec!["Group/g"],
                vec![],
                vec![],
                vec![],
                ("Configured", true, false, false),
            ),
            (
                vec![],
                vec!["Rule r"],
                vec![],
                vec![],
                ("NameConflict", true, false, true),
            ),
            (
                vec![],
                vec![],
                vec!["allow list"],
                vec![],
                ("Configured", false, false, false),
            ),
            (
                vec![],
                vec![],
                vec![],
                vec!["Rule r: changed"],
                ("DriftReported", true, true, true),
            ),
        ];
        for (created, conflicts, failed, drift, want) in table {
            let (created, conflicts, failed, drift) =
                (ids(&created), ids(&conflicts), ids(&failed), ids(&drift));
            let checks = mail_flow_checks(&PassResult {
                wanted: 8,
                created: &created,
                conflicts: &conflicts,
                failed: &failed,
                drift: &drift,
            });
            let types: Vec<_> = checks.iter().map(|c| c.type_).collect();
            assert_eq!(
                types,
                [
                    MAIL_FLOW_CONFIGURED,
                    SECURITY_SETTINGS_VERIFIED,
                    MAIL_FLOW_DRIFTED
                ]
            );
            assert_eq!(checks[0].reason, want.0);
            assert_eq!(checks[0].needs_human, want.3);
            assert_eq!(checks[1].status, want.1);
            assert_eq!((checks[2].status, checks[2].healthy), (want.2, !want.2));
            if let Some(id) = created.first() {
                assert!(checks[0].message.contains(id.as_str()));
            }
        }
    }
}

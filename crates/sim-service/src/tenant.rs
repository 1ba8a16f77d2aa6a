//! What the service keeps of one tenant, and how an acknowledged delivery changes it (pure:
//! the record and the delivery in, the changed record or a refusal out).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::protocol::{Body, CatchUpReason, Delivery, Group, Registration, TokenState, User};

/// Most users one tenant's directory holds.
pub const MAX_USERS: usize = 200_000;
/// Most groups one tenant's directory holds.
pub const MAX_GROUPS: usize = 50_000;
/// Most protected ids of one tenant.
pub const MAX_PROTECTED: usize = 200_000;
/// Most mailboxes whose latest catch-up one tenant's record keeps.
pub const MAX_CATCH_UP_MAILBOXES: usize = MAX_USERS;
/// Token-health entries kept per tenant (the oldest dropped first).
pub const TOKEN_HISTORY: usize = 100;
/// Acknowledged `webhook-id`s remembered per tenant (the oldest forgotten first; the
/// sequence alone still answers older duplicates).
pub const REMEMBERED_IDS: usize = 1000;

/// A tenant's users and groups by id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Directory {
    /// Users by id.
    pub users: BTreeMap<String, User>,
    /// Groups by id.
    pub groups: BTreeMap<String, Group>,
}

/// A snapshot between its begin and its end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenSnapshot {
    /// Its id.
    pub snapshot_id: String,
    /// What its pages brought so far.
    pub directory: Directory,
}

/// One token-health report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenHealth {
    /// The state.
    pub state: TokenState,
    /// Since when, as sent.
    pub since: String,
    /// The operator's reason, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The delivery's sequence.
    pub sequence: u64,
}

/// The latest catch-up asked for one mailbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatchUp {
    /// From when notifications may have been lost, as sent.
    pub since: String,
    /// Why.
    pub reason: CatchUpReason,
}

/// The `mailboxCatchUp` deliveries applied.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatchUps {
    /// How many were applied.
    pub requests: u64,
    /// The latest one per user id (lowercase).
    pub users: BTreeMap<String, CatchUp>,
}

/// The last acknowledged delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastDelivery {
    /// Its sequence.
    pub sequence: u64,
    /// Its `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its `webhook-id`.
    pub webhook_id: String,
    /// When the service acknowledged it (RFC 3339).
    pub acknowledged_at: String,
}

/// Everything the service keeps of a registered tenant (persisted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantRecord {
    /// The registration as last sent.
    pub registration: Registration,
    /// Policies of the registration the service offers (in its spelling).
    pub accepted_policies: Vec<String>,
    /// Policies of the registration it does not offer.
    pub unknown_policies: Vec<String>,
    /// The last sequence acknowledged (0: none).
    pub watermark: u64,
    /// The service asks for a full snapshot.
    pub resync_requested: bool,
    /// A snapshot has been completed since registration.
    pub snapshot_complete: bool,
    /// The directory.
    pub directory: Directory,
    /// The snapshot being received, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_snapshot: Option<OpenSnapshot>,
    /// Ids of the protected users.
    pub protected: BTreeSet<String>,
    /// Token-health reports, oldest first.
    pub token_health: VecDeque<TokenHealth>,
    /// Recently acknowledged `webhook-id`s with their sequence, oldest first.
    pub acknowledged_ids: VecDeque<(String, u64)>,
    /// The last acknowledged delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivery: Option<LastDelivery>,
    /// The mailbox catch-ups asked for (absent from older state files: none).
    #[serde(default)]
    pub catch_ups: CatchUps,
}

/// Why a well-formed delivery cannot be applied (answered 422; nothing changes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

impl TenantRecord {
    /// A new tenant's record (watermark 0, no directory).
    pub fn new(registration: Registration, offered: &[String]) -> Self {
        let mut record = Self {
            registration: registration.clone(),
            accepted_policies: vec![],
            unknown_policies: vec![],
            watermark: 0,
            resync_requested: false,
            snapshot_complete: false,
            directory: Directory::default(),
            open_snapshot: None,
            protected: BTreeSet::new(),
            token_health: VecDeque::new(),
            acknowledged_ids: VecDeque::new(),
            last_delivery: None,
            catch_ups: CatchUps::default(),
        };
        record.register(registration, offered);
        record
    }

    /// Takes a (new or repeated) registration: its fields and policies replace the old ones;
    /// the watermark, directory and everything delivered stay.
    pub fn register(&mut self, registration: Registration, offered: &[String]) {
        let (accepted, unknown) = match_policies(&registration.policies, offered);
        self.accepted_policies = accepted;
        self.unknown_policies = unknown;
        self.registration = registration;
    }

    /// The sequence `webhook_id` was acknowledged with, if remembered.
    pub fn acknowledged_as(&self, webhook_id: &str) -> Option<u64> {
        self.acknowledged_ids
            .iter()
            .find(|(id, _)| id == webhook_id)
            .map(|(_, s)| *s)
    }

    /// Applies the delivery that `sequence::decide` said to apply, and acknowledges it: the
    /// watermark moves to its sequence and its id is remembered.
    pub fn apply(
        &mut self,
        delivery: &Delivery,
        webhook_id: &str,
        now: &str,
    ) -> Result<(), Refused> {
        match &delivery.body {
            Body::SnapshotBegin { snapshot_id } => {
                self.open_snapshot = Some(OpenSnapshot {
                    snapshot_id: snapshot_id.clone(),
                    directory: Directory::default(),
                });
            }
            Body::SnapshotPage {
                snapshot_id,
                users,
                groups,
            } => {
                let open = self.open(snapshot_id)?;
                upsert(&mut open.directory, users, groups)?;
            }
            Body::SnapshotEnd {
                snapshot_id,
                user_count,
                group_count,
            } => {
                let open = self.open(snapshot_id)?;
                let (users, groups) = (open.directory.users.len(), open.directory.groups.len());
                if users as u64 != *user_count || groups as u64 != *group_count {
                    return Err(Refused(format!(
                        "snapshot {snapshot_id} holds {users} users and {groups} groups, not {user_count} and {group_count}"
                    )));
                }
                let done = self.open_snapshot.take().map(|o| o.directory);
                self.directory = done.unwrap_or_default();
                self.snapshot_complete = true;
                self.resync_requested = false;
            }
            Body::Changes {
                users,
                removed_users,
                groups,
                removed_groups,
            } => {
                // In sequence order: a snapshot still open receives the change too, so that
                // its end does not undo it.
                let mut directories = vec![&mut self.directory];
                if let Some(open) = self.open_snapshot.as_mut() {
                    directories.push(&mut open.directory);
                }
                for directory in directories {
                    upsert(directory, users, groups)?;
                    for id in removed_users {
                        directory.users.remove(id);
                    }
                    for id in removed_groups {
                        directory.groups.remove(id);
                    }
                }
            }
            Body::ProtectedSet {
                added,
                removed,
                replace,
            } => {
                if *replace {
                    self.protected.clear();
                }
                self.protected.extend(added.iter().cloned());
                for id in removed {
                    self.protected.remove(id);
                }
                if self.protected.len() > MAX_PROTECTED {
                    return Err(Refused(format!(
                        "the protected set would hold more than {MAX_PROTECTED} ids"
                    )));
                }
            }
            Body::TokenHealth {
                state,
                since,
                reason,
            } => {
                if self.token_health.len() == TOKEN_HISTORY {
                    self.token_health.pop_front();
                }
                self.token_health.push_back(TokenHealth {
                    state: *state,
                    since: since.clone(),
                    reason: reason.clone(),
                    sequence: delivery.sequence,
                });
            }
            Body::MailboxCatchUp {
                user_ids,
                since,
                reason,
            } => {
                for id in user_ids {
                    let latest = CatchUp {
                        since: since.clone(),
                        reason: *reason,
                    };
                    self.catch_ups.users.insert(id.to_ascii_lowercase(), latest);
                }
                if self.catch_ups.users.len() > MAX_CATCH_UP_MAILBOXES {
                    return Err(Refused(format!(
                        "the service follows catch-ups for at most {MAX_CATCH_UP_MAILBOXES} mailboxes"
                    )));
                }
                self.catch_ups.requests += 1;
            }
        }
        self.watermark = delivery.sequence;
        if self.acknowledged_ids.len() == REMEMBERED_IDS {
            self.acknowledged_ids.pop_front();
        }
        self.acknowledged_ids
            .push_back((webhook_id.to_string(), delivery.sequence));
        self.last_delivery = Some(LastDelivery {
            sequence: delivery.sequence,
            kind: delivery.body.kind().to_string(),
            webhook_id: webhook_id.to_string(),
            acknowledged_at: now.to_string(),
        });
        Ok(())
    }

    /// The open snapshot `snapshot_id`, or a refusal naming what is open.
    fn open(&mut self, snapshot_id: &str) -> Result<&mut OpenSnapshot, Refused> {
        match self.open_snapshot.as_mut() {
            Some(open) if open.snapshot_id == snapshot_id => Ok(open),
            Some(open) => Err(Refused(format!(
                "snapshot {snapshot_id} is not open (snapshot {} is)",
                open.snapshot_id
            ))),
            None => Err(Refused(format!(
                "snapshot {snapshot_id} is not open (no snapshotBegin)"
            ))),
        }
    }
}

/// Adds or replaces users and groups, within the directory's bounds.
fn upsert(directory: &mut Directory, users: &[User], groups: &[Group]) -> Result<(), Refused> {
    for u in users {
        directory.users.insert(u.id.clone(), u.clone());
    }
    for g in groups {
        directory.groups.insert(g.id.clone(), g.clone());
    }
    if directory.users.len() > MAX_USERS || directory.groups.len() > MAX_GROUPS {
        return Err(Refused(format!(
            "a directory holds at most {MAX_USERS} users and {MAX_GROUPS} groups"
        )));
    }
    Ok(())
}

/// Splits the policies asked for into those offered (in the service's spelling, compared
/// without regard to case, each once) and the others (as sent).
pub fn match_policies(asked: &[String], offered: &[String]) -> (Vec<String>, Vec<String>) {
    let mut accepted: Vec<String> = vec![];
    let mut unknown: Vec<String> = vec![];
    for name in asked {
        match offered.iter().find(|o| o.eq_ignore_ascii_case(name)) {
            Some(o) if !accepted.contains(o) => accepted.push(o.clone()),
            Some(_) => {}
            None if !unknown.contains(name) => unknown.push(name.clone()),
            None => {}
        }
    }
    (accepted, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> TenantRecord {
        let registration = serde_json::from_value(json!({
            "tenantId": "5b1c6e8a-2f4d-4a7b-9c3e-1d2f3a4b5c6d",
            "cloud": "Global", "mode": "Api", "scope": "All", "policies": ["standard", "Nope"]
        }))
        .unwrap();
        TenantRecord::new(
            registration,
            &["Standard".to_string(), "Strict".to_string()],
        )
    }

    fn apply(r: &mut TenantRecord, v: serde_json::Value) -> Result<(), Refused> {
        let d: Delivery = serde_json::from_value(v).unwrap();
        let id = format!("msg_{}", d.sequence);
        r.apply(&d, &id, "2025-01-01T00:00:00Z")
    }

    fn user(id: &str) -> serde_json::Value {
        json!({"id": id, "userPrincipalName": format!("{id}@contoso.com")})
    }

    #[test]
    fn policies_are_matched_without_case() {
        let r = record();
        assert_eq!(r.accepted_policies, ["Standard"]);
        assert_eq!(r.unknown_policies, ["Nope"]);
        let (a, u) = match_policies(
            &["STRICT".into(), "strict".into(), "x".into(), "x".into()],
            &["Strict".into()],
        );
        assert_eq!((a, u), (vec!["Strict".to_string()], vec!["x".to_string()]));
    }

    #[test]
    fn a_snapshot_replaces_the_directory_at_its_end_only() {
        let mut r = record();
        apply(
            &mut r,
            json!({"sequence": 1, "type": "changes", "users": [user("old")]}),
        )
        .unwrap();
        apply(
            &mut r,
            json!({"sequence": 2, "type": "snapshotBegin", "snapshotId": "s"}),
        )
        .unwrap();
        apply(
            &mut r,
            json!({"sequence": 3, "type": "snapshotPage", "snapshotId": "s", "users": [user("a")]}),
        )
        .unwrap();
        assert!(
            r.directory.users.contains_key("old"),
            "nothing replaced before the end"
        );
        apply(
            &mut r,
            json!({"sequence": 4, "type": "changes", "users": [user("b")], "removedUsers": ["a"]}),
        )
        .unwrap();
        apply(
            &mut r,
            json!({"sequence": 5, "type": "snapshotPage", "snapshotId": "s", "users": [user("c")],
            "groups": [{"id": "g", "displayName": "G", "members": ["b", "c"]}]}),
        )
        .unwrap();
        let wrong = apply(
            &mut r,
            json!({"sequence": 6, "type": "snapshotEnd", "snapshotId": "s", "userCount": 3, "groupCount": 1}),
        );
        assert!(wrong.unwrap_err().0.contains("holds 2 users"));
        assert_eq!(r.watermark, 5, "a refused delivery is not acknowledged");
        apply(&mut r, json!({"sequence": 6, "type": "snapshotEnd", "snapshotId": "s", "userCount": 2, "groupCount": 1})).unwrap();
        let ids: Vec<&String> = r.directory.users.keys().collect();
        assert_eq!(ids, ["b", "c"]);
        assert!(r.snapshot_complete && r.open_snapshot.is_none());
        assert_eq!(r.watermark, 6);
        assert_eq!(r.acknowledged_as("msg_6"), Some(6));
    }

    #[test]
    fn pages_need_their_snapshot_open() {
        let mut r = record();
        let e = apply(
            &mut r,
            json!({"sequence": 1, "type": "snapshotPage", "snapshotId": "s"}),
        )
        .unwrap_err();
        assert!(e.0.contains("no snapshotBegin"), "{e:?}");
        apply(
            &mut r,
            json!({"sequence": 1, "type": "snapshotBegin", "snapshotId": "s"}),
        )
        .unwrap();
        let e = apply(&mut r, json!({"sequence": 2, "type": "snapshotEnd", "snapshotId": "t", "userCount": 0, "groupCount": 0})).unwrap_err();
        assert!(e.0.contains("snapshot s is"), "{e:?}");
        // a new begin discards the open snapshot
        apply(
            &mut r,
            json!({"sequence": 2, "type": "snapshotBegin", "snapshotId": "t"}),
        )
        .unwrap();
        apply(&mut r, json!({"sequence": 3, "type": "snapshotEnd", "snapshotId": "t", "userCount": 0, "groupCount": 0})).unwrap();
    }

    #[test]
    fn a_snapshot_end_clears_a_resync_request() {
        let mut r = record();
        r.resync_requested = true;
        apply(
            &mut r,
            json!({"sequence": 1, "type": "snapshotBegin", "snapshotId": "s"}),
        )
        .unwrap();
        assert!(r.resync_requested);
        apply(&mut r, json!({"sequence": 2, "type": "snapshotEnd", "snapshotId": "s", "userCount": 0, "groupCount": 0})).unwrap();
        assert!(!r.resync_requested);
    }

    #[test]
    fn protected_set_and_token_health() {
        let mut r = record();
        apply(
            &mut r,
            json!({"sequence": 1, "type": "protectedSet", "added": ["a", "b"]}),
        )
        .unwrap();
        apply(
            &mut r,
            json!({"sequence": 2, "type": "protectedSet", "added": ["c"], "removed": ["a"]}),
        )
        .unwrap();
        assert_eq!(r.protected.iter().collect::<Vec<_>>(), ["b", "c"]);
        apply(
            &mut r,
            json!({"sequence": 3, "type": "protectedSet", "added": ["z"], "replace": true}),
        )
        .unwrap();
        assert_eq!(r.protected.iter().collect::<Vec<_>>(), ["z"]);
        for s in 4..(4 + TOKEN_HISTORY as u64 + 5) {
            apply(&mut r, json!({"sequence": s, "type": "tokenHealth", "state": "Expired", "since": "2025-01-01T00:00:00Z"})).unwrap();
        }
        assert_eq!(r.token_health.len(), TOKEN_HISTORY);
        assert_eq!(r.last_delivery.as_ref().unwrap().kind, "tokenHealth");
    }

    #[test]
    fn catch_ups_keep_the_latest_per_user() {
        let (a, b) = (
            "7d3e9f4a-1b2c-4d5e-8f6a-0b1c2d3e4f5a",
            "8e4f0a5b-2c3d-4e6f-9a7b-1c2d3e4f5a6b",
        );
        let mut r = record();
        apply(
            &mut r,
            json!({"sequence": 1, "type": "mailboxCatchUp", "userIds": [a, b.to_uppercase()],
            "since": "2025-01-01T00:00:00Z", "reason": "Missed"}),
        )
        .unwrap();
        apply(
            &mut r,
            json!({"sequence": 2, "type": "mailboxCatchUp", "userIds": [b],
            "since": "2025-01-02T00:00:00Z", "reason": "SubscriptionRecreated"}),
        )
        .unwrap();
        assert_eq!(r.catch_ups.requests, 2);
        assert_eq!(r.catch_ups.users.len(), 2);
        assert_eq!(r.catch_ups.users[a].since, "2025-01-01T00:00:00Z");
        let latest = &r.catch_ups.users[b];
        assert_eq!(
            (latest.since.as_str(), latest.reason),
            ("2025-01-02T00:00:00Z", CatchUpReason::SubscriptionRecreated)
        );
        assert_eq!(r.watermark, 2);
        assert_eq!(r.last_delivery.as_ref().unwrap().kind, "mailboxCatchUp");
        // A record of an older state file, without catch-ups, still loads.
        let mut v = serde_json::to_value(&r).unwrap();
        v.as_object_mut().unwrap().remove("catchUps");
        let old: TenantRecord = serde_json::from_value(v).unwrap();
        assert_eq!(old.catch_ups, CatchUps::default());
    }

    #[test]
    fn remembered_ids_are_bounded() {
        let mut r = record();
        for s in 1..=(REMEMBERED_IDS as u64 + 10) {
            apply(&mut r, json!({"sequence": s, "type": "protectedSet"})).unwrap();
        }
        assert_eq!(r.acknowledged_ids.len(), REMEMBERED_IDS);
        assert_eq!(r.acknowledged_as("msg_1"), None);
        assert_eq!(r.acknowledged_as("msg_1010"), Some(1010));
    }
}

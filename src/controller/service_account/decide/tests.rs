use super::*;

fn at(s: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_800_000_000 + s).unwrap()
}

fn summary(users: i64) -> SyncSummary {
    SyncSummary {
        last_sync_time: Some(Time(at(0))),
        next_sync_time: Some(Time(at(86_400))),
        users,
        groups: 2,
        domains: 1,
    }
}

fn healthy() -> Observation {
    Observation {
        config: None,
        token: TokenObservation::Valid {
            expires_at: at(3600),
            obtained_at: at(0),
        },
        authorization: AuthorizationObservation::Granted,
        service_principal: None,
        sync: SyncObservation::Synced(summary(10)),
        delivery: None,
        policies: None,
        activity: None,
        inline: None,
        claimed_by: None,
        observing: None,
        protection: None,
    }
}

fn cond<'a>(s: &'a ExchangeServiceAccountStatus, t: &str) -> &'a Condition {
    conditions::get(&s.conditions, t).unwrap_or_else(|| panic!("no {t}"))
}

#[test]
fn a_granted_synced_account_is_ready_with_the_console_message() {
    let (status, transitions) = decide(Some(1), None, &healthy(), at(1));
    assert_eq!(cond(&status, "Ready").status, "True");
    assert_eq!(status.message.as_deref(), Some(READY_MESSAGE));
    assert_eq!(cond(&status, "Stalled").status, "False");
    assert_eq!(cond(&status, "Reconciling").status, "False");
    assert_eq!(status.conditions[0].type_, "Ready");
    assert_eq!(
        status.token.as_ref().unwrap().expires_at,
        Some(Time(at(3600)))
    );
    assert_eq!(status.observed_generation, Some(1));
    assert!(transitions.contains(&Transition::BecameReady));
    assert!(
        transitions
            .iter()
            .any(|t| matches!(t, Transition::Synced { .. }))
    );
}

#[test]
fn the_same_observation_twice_changes_nothing_and_announces_nothing() {
    let (first, _) = decide(Some(1), None, &healthy(), at(1));
    let (second, transitions) = decide(Some(1), Some(&first), &healthy(), at(500));
    assert_eq!(first, second);
    assert!(transitions.is_empty(), "{transitions:?}");
}

#[test]
fn missing_consent_shows_the_url_and_missing_permissions_and_stalls() {
    let observed = Observation {
        token: TokenObservation::Valid {
            expires_at: at(3600),
            obtained_at: at(0),
        },
        authorization: AuthorizationObservation::ConsentRequired {
            url: "https://login.example/adminconsent".into(),
            missing: vec!["Mail.ReadWrite".into()],
        },
        sync: SyncObservation::NotStarted,
        ..healthy()
    };
    let (status, transitions) = decide(Some(1), None, &observed, at(1));
    let consent = status.consent.as_ref().unwrap();
    assert_eq!(
        consent.admin_consent_url.as_deref(),
        Some("https://login.example/adminconsent")
    );
    assert_eq!(consent.missing_permissions, ["Mail.ReadWrite"]);
    assert_eq!(cond(&status, "Authorized").reason, "ConsentRequired");
    assert_eq!(cond(&status, "Stalled").status, "True");
    assert_eq!(cond(&status, "Ready").reason, "ConsentRequired");
    assert!(cond(&status, "Ready").message.contains("Mail.ReadWrite"));
    assert_eq!(cond(&status, "DirectorySynced").reason, "WaitingForGrant");
    assert_eq!(transitions.len(), 1);
    // Once granted the prompt disappears.
    let (granted, _) = decide(Some(1), Some(&status), &healthy(), at(2));
    assert!(granted.consent.is_none());
    assert_eq!(cond(&granted, "Ready").status, "True");
    // Announced once only.
    let (_, again) = decide(Some(1), Some(&status), &observed, at(3));
    assert!(again.is_empty());
}

#[test]
fn token_invalidation_is_announced_once_and_recovery_too() {
    let (valid, _) = decide(Some(1), None, &healthy(), at(1));
    let dead = Observation {
        token: TokenObservation::Failed {
            failure: TokenFailure::RefreshTokenRevoked,
            message: "revoked (AADSTS50173)".into(),
            still_valid_until: None,
        },
        authorization: AuthorizationObservation::Unknown,
        ..healthy()
    };
    let (invalid, transitions) = decide(Some(1), Some(&valid), &dead, at(10));
    assert_eq!(cond(&invalid, "TokenValid").reason, "RefreshTokenRevoked");
    assert_eq!(cond(&invalid, "Ready").status, "False");
    assert_eq!(cond(&invalid, "Stalled").status, "True");
    assert_eq!(
        transitions,
        [Transition::TokenInvalid {
            reason: "RefreshTokenRevoked".into(),
            message: "revoked (AADSTS50173)".into()
        }]
    );
    let (still, none) = decide(Some(1), Some(&invalid), &dead, at(20));
    assert!(none.is_empty());
    assert_eq!(
        cond(&still, "TokenValid").last_transition_time,
        Time(at(10))
    );
    let (back, transitions) = decide(Some(1), Some(&still), &healthy(), at(30));
    assert_eq!(cond(&back, "Ready").status, "True");
    assert!(transitions.contains(&Transition::TokenRecovered));
    assert!(transitions.contains(&Transition::BecameReady));
}

#[test]
fn a_transient_failure_while_the_token_is_valid_keeps_the_account_ready() {
    let (valid, _) = decide(Some(1), None, &healthy(), at(1));
    let blip = Observation {
        token: TokenObservation::Failed {
            failure: TokenFailure::Transient,
            message: "login unavailable".into(),
            still_valid_until: Some(at(3600)),
        },
        ..healthy()
    };
    let (status, transitions) = decide(Some(1), Some(&valid), &blip, at(3000));
    assert_eq!(cond(&status, "TokenValid").status, "True");
    assert_eq!(cond(&status, "TokenValid").reason, "Refreshing");
    assert_eq!(cond(&status, "Ready").status, "True");
    assert!(transitions.is_empty());
    // After expiry it is Unknown, not False: no human is needed.
    let (later, _) = decide(
        Some(1),
        Some(&status),
        &Observation {
            token: TokenObservation::Failed {
                failure: TokenFailure::Transient,
                message: "login unavailable".into(),
                still_valid_until: Some(at(3600)),
            },
            ..healthy()
        },
        at(4000),
    );
    assert_eq!(cond(&later, "TokenValid").status, "Unknown");
    assert_eq!(cond(&later, "Stalled").status, "False");
    assert_eq!(cond(&later, "Reconciling").status, "True");
}

#[test]
fn a_credential_problem_names_itself_and_stalls() {
    let observed = Observation {
        config: Some(ConfigProblem {
            reason: "CredentialSecretNotFound",
            message: "Secret app not found".into(),
        }),
        token: TokenObservation::NotAttempted,
        authorization: AuthorizationObservation::Unknown,
        sync: SyncObservation::NotStarted,
        ..healthy()
    };
    let (status, _) = decide(Some(3), None, &observed, at(1));
    assert_eq!(
        cond(&status, "TokenValid").reason,
        "CredentialSecretNotFound"
    );
    assert_eq!(cond(&status, "Stalled").status, "True");
    assert_eq!(cond(&status, "Ready").reason, "CredentialSecretNotFound");
    assert_eq!(cond(&status, "Ready").observed_generation, Some(3));
}

#[test]
fn device_code_prompt_is_shown_and_announced() {
    let observed = Observation {
        token: TokenObservation::NotAttempted,
        authorization: AuthorizationObservation::AwaitingSignIn {
            verification_uri: "https://microsoft.com/devicelogin".into(),
            user_code: "ABCD-EFGH".into(),
            expires_at: at(900),
            missing: vec![],
        },
        sync: SyncObservation::NotStarted,
        ..healthy()
    };
    let (status, transitions) = decide(Some(1), None, &observed, at(1));
    let consent = status.consent.as_ref().unwrap();
    assert_eq!(consent.user_code.as_deref(), Some("ABCD-EFGH"));
    assert_eq!(consent.expires_at, Some(Time(at(900))));
    assert_eq!(cond(&status, "Authorized").reason, "AwaitingSignIn");
    assert!(matches!(
        transitions[..],
        [Transition::DeviceCodeIssued { .. }]
    ));
}

#[test]
fn a_failed_sync_keeps_the_last_summary_and_retries() {
    let (ready, _) = decide(Some(1), None, &healthy(), at(1));
    let failing = Observation {
        sync: SyncObservation::Failed {
            reason: "GraphUnavailable".into(),
            message: "Graph GET /users/delta failed".into(),
            needs_human: false,
            previous: ready.sync.clone(),
            retry_after: None,
        },
        ..healthy()
    };
    let (status, _) = decide(Some(1), Some(&ready), &failing, at(2));
    assert_eq!(status.sync.as_ref().unwrap().users, 10);
    assert_eq!(cond(&status, "Ready").reason, "GraphUnavailable");
    assert_eq!(cond(&status, "Reconciling").status, "True");
    assert_eq!(cond(&status, "Stalled").status, "False");
}

#[test]
fn policies_and_activity_data_take_part_in_readiness() {
    let observed = Observation {
        policies: Some(PolicyObservation {
            asked: vec!["Phishing".into(), "Malware".into()],
            offered: Vec::new(),
        }),
        activity: Some(ActivityObservation::PermissionMissing {
            consent_url: "https://login.microsoftonline.com/adminconsent".into(),
        }),
        ..healthy()
    };
    let (status, _) = decide(Some(1), None, &observed, at(1));
    assert_eq!(
        cond(&status, POLICY_ENABLED).message,
        "The service offers Phishing, Malware; it has no ingestion endpoint, so they are not sent to it."
    );
    assert_eq!(cond(&status, "Ready").reason, "ActivityPermissionMissing");
    let (without, _) = decide(Some(2), Some(&status), &healthy(), at(2));
    assert!(conditions::get(&without.conditions, POLICY_ENABLED).is_none());
    assert!(conditions::get(&without.conditions, ACTIVITY_DATA_AUTHORIZED).is_none());
    assert_eq!(cond(&without, "Ready").status, "True");
}

#[test]
fn inline_mode_is_ready_only_when_every_inline_condition_is_healthy() {
    let role = |ok: bool| {
        InlineCheck::positive(
            "RoleAssigned",
            ok,
            if ok { "Assigned" } else { "PendingApproval" },
            "role".into(),
        )
    };
    let configured = InlineCheck::positive("MailFlowConfigured", true, "Configured", "ok".into());
    let drifted = |d: bool| InlineCheck {
        type_: "MailFlowDrifted",
        status: d,
        healthy: !d,
        reason: if d { "Drifted" } else { "InSync" }.into(),
        message: "drift".into(),
        needs_human: false,
    };
    let with = |checks: Vec<InlineCheck>| Observation {
        inline: Some(InlineObservation {
            checks,
            status: Some(MailFlowStatus::default()),
            failed: false,
        }),
        ..healthy()
    };

    // Waiting for an approver: not Ready, Stalled on the role.
    let (pending, _) = decide(
        Some(1),
        None,
        &with(vec![role(false).needing_a_human()]),
        at(1),
    );
    assert_eq!(cond(&pending, "Ready").reason, "PendingApproval");
    assert_eq!(cond(&pending, "Stalled").status, "True");
    assert!(pending.mail_flow.is_some());

    // Drift (policy Report) is the reason Ready is False, and MailFlowDrifted is True.
    let (drift, _) = decide(
        Some(1),
        Some(&pending),
        &with(vec![role(true), configured.clone(), drifted(true)]),
        at(2),
    );
    assert_eq!(cond(&drift, "Ready").reason, "Drifted");
    assert_eq!(cond(&drift, "MailFlowDrifted").status, "True");
    assert_eq!(cond(&drift, "Stalled").status, "False");

    let (ready, transitions) = decide(
        Some(1),
        Some(&drift),
        &with(vec![role(true), configured, drifted(false)]),
        at(3),
    );
    assert_eq!(cond(&ready, "Ready").status, "True");
    assert_eq!(cond(&ready, "MailFlowDrifted").status, "False");
    assert!(transitions.contains(&Transition::BecameReady));

    // Back to API mode: the inline conditions and status go away.
    let (api, _) = decide(Some(2), Some(&ready), &healthy(), at(4));
    assert!(conditions::get(&api.conditions, "RoleAssigned").is_none());
    assert!(conditions::get(&api.conditions, "MailFlowDrifted").is_none());
    assert!(api.mail_flow.is_none());
}

#[test]
fn activity_data_is_worded_here_and_only_subscribed_allows_ready() {
    let table = [
        (ActivityObservation::WaitingForGrant, "WaitingForGrant"),
        (
            ActivityObservation::NoToken("AADSTS65001".into()),
            "ActivityConsentRequired",
        ),
        (
            ActivityObservation::PermissionMissing {
                consent_url: "https://consent".into(),
            },
            "ActivityPermissionMissing",
        ),
        (ActivityObservation::TenantUnknown, "TenantIdUnknown"),
        (ActivityObservation::Subscribed, "Subscribed"),
        (
            ActivityObservation::Forbidden("403".into()),
            "ActivityDataForbidden",
        ),
        (
            ActivityObservation::Unavailable("503".into()),
            "ActivityDataUnavailable",
        ),
    ];
    for (observation, reason) in table {
        let (ok, got, message) = observation.condition();
        assert_eq!(got, reason);
        assert_eq!(
            ok,
            observation == ActivityObservation::Subscribed,
            "{reason}"
        );
        assert!(!message.is_empty(), "{reason}");
        let observed = Observation {
            activity: Some(observation),
            ..healthy()
        };
        let (status, _) = decide(Some(1), None, &observed, at(1));
        assert_eq!(cond(&status, ACTIVITY_DATA_AUTHORIZED).reason, reason);
        assert_eq!(cond(&status, "Ready").status == "True", ok, "{reason}");
    }
}

fn delivered(unknown: &[&str]) -> DeliveryObservation {
    DeliveryObservation::Acknowledged(exo_api::exchange_service_account::DeliveryStatus {
        service: "EmailSecurityService/s".into(),
        watermark: 12,
        users: 4,
        accepted_policies: vec!["Phishing".into()],
        unknown_policies: unknown.iter().map(|u| u.to_string()).collect(),
    })
}

fn failed(needs_human: bool) -> DeliveryObservation {
    DeliveryObservation::Failed {
        reason: "ServiceUnavailable".into(),
        message: "down".into(),
        needs_human,
        retry_after: None,
    }
}

#[test]
fn ready_only_once_the_service_acknowledged_the_directory() {
    // (delivery, policies offered, ServiceRegistered, DirectorySynced, PolicyEnabled reason,
    //  Ready, Stalled)
    let cases = [
        (
            None,
            vec![],
            None,
            "True",
            "PoliciesOffered",
            "True",
            "False",
        ),
        (
            Some(delivered(&[])),
            vec![],
            Some("True"),
            "True",
            "PoliciesEnabled",
            "True",
            "False",
        ),
        (
            Some(failed(false)),
            vec![],
            Some("Unknown"),
            "False",
            "WaitingForService",
            "False",
            "False",
        ),
        (
            Some(failed(true)),
            vec![],
            Some("False"),
            "False",
            "WaitingForService",
            "False",
            "True",
        ),
        (
            Some(delivered(&["Phishing"])),
            vec![],
            Some("True"),
            "True",
            "UnknownPolicies",
            "False",
            "True",
        ),
        (
            Some(delivered(&[])),
            vec!["Malware"],
            Some("True"),
            "True",
            "UnknownPolicies",
            "False",
            "True",
        ),
        (
            Some(delivered(&[])),
            vec!["phishing"],
            Some("True"),
            "True",
            "PoliciesEnabled",
            "True",
            "False",
        ),
        (
            None,
            vec!["Malware"],
            None,
            "True",
            "UnknownPolicies",
            "False",
            "True",
        ),
    ];
    for (i, (delivery, offered, registered, synced, policy, ready, stalled)) in
        cases.into_iter().enumerate()
    {
        let observed = Observation {
            delivery,
            policies: Some(PolicyObservation {
                asked: vec!["Phishing".into()],
                offered: offered.into_iter().map(String::from).collect(),
            }),
            ..healthy()
        };
        let (status, _) = decide(Some(1), None, &observed, at(1));
        let registered_now =
            conditions::get(&status.conditions, "ServiceRegistered").map(|c| c.status.as_str());
        assert_eq!(registered_now, registered, "case {i}");
        assert_eq!(cond(&status, "DirectorySynced").status, synced, "case {i}");
        assert_eq!(cond(&status, POLICY_ENABLED).reason, policy, "case {i}");
        assert_eq!(cond(&status, "Ready").status, ready, "case {i}");
        assert_eq!(cond(&status, "Stalled").status, stalled, "case {i}");
    }
}

#[test]
fn a_failed_delivery_keeps_what_the_service_acknowledged_before() {
    let first = Observation {
        delivery: Some(delivered(&[])),
        ..healthy()
    };
    let (status, _) = decide(Some(1), None, &first, at(1));
    let then = Observation {
        delivery: Some(failed(false)),
        ..healthy()
    };
    let (after, _) = decide(Some(1), Some(&status), &then, at(2));
    assert_eq!(after.delivery, status.delivery);
    assert!(then.failed_for_now());
}

#[test]
fn the_service_registering_and_failing_are_announced_once() {
    let step = |previous: Option<&ExchangeServiceAccountStatus>, delivery| {
        let observed = Observation {
            delivery: Some(delivery),
            ..healthy()
        };
        decide(Some(1), previous, &observed, at(2))
    };
    let kinds = |t: &[Transition]| {
        t.iter()
            .filter_map(|t| match t {
                Transition::ServiceRegistered { .. } => Some("registered"),
                Transition::DeliveryFailing { .. } => Some("failing"),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let (ok, t) = step(None, delivered(&[]));
    assert_eq!(kinds(&t), ["registered"]);
    let (again, t) = step(Some(&ok), delivered(&[]));
    assert_eq!(kinds(&t), Vec::<&str>::new());
    let (down, t) = step(Some(&again), failed(false));
    assert_eq!(kinds(&t), ["failing"]);
    let (still, t) = step(Some(&down), failed(false));
    assert_eq!(kinds(&t), Vec::<&str>::new());
    let (_, t) = step(Some(&still), delivered(&[]));
    assert_eq!(kinds(&t), ["registered"]);
    // Refused from the start (a wrong credential): announced once; unavailable: not yet.
    let (refused, t) = step(None, failed(true));
    assert_eq!(kinds(&t), ["failing"]);
    let (_, t) = step(Some(&refused), failed(true));
    assert_eq!(kinds(&t), Vec::<&str>::new());
    let (_, t) = step(None, failed(false));
    assert_eq!(kinds(&t), Vec::<&str>::new());
}

#[test]
fn a_lost_grant_keeps_what_the_service_acknowledged() {
    let first = Observation {
        delivery: Some(delivered(&[])),
        ..healthy()
    };
    let (status, _) = decide(Some(1), None, &first, at(1));
    let lost = Observation {
        delivery: Some(DeliveryObservation::WaitingForGrant),
        ..healthy()
    };
    let (after, _) = decide(Some(1), Some(&status), &lost, at(2));
    assert_eq!(cond(&after, "ServiceRegistered").reason, "WaitingForAccess");
    assert_eq!(after.delivery, status.delivery);
    let (fresh, _) = decide(Some(1), None, &lost, at(2));
    assert_eq!(cond(&fresh, "ServiceRegistered").reason, "WaitingForGrant");
}

#[test]
fn counts_are_worded_in_the_singular_and_the_plural() {
    use exo_api::exchange_service_account::SyncSummary;
    let one = SyncSummary {
        users: 1,
        groups: 1,
        domains: 1,
        ..SyncSummary::default()
    };
    assert_eq!(
        super::directory_counts(&one),
        "1 user, 1 group and 1 mail domain"
    );
    let many = SyncSummary {
        users: 4,
        groups: 0,
        domains: 2,
        ..SyncSummary::default()
    };
    assert_eq!(
        super::directory_counts(&many),
        "4 users, 0 groups and 2 mail domains"
    );
}

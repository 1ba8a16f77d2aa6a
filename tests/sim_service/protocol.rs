//! The protocol's flows: registration, a snapshot in pages then changes, the protected set
//! and token health, duplicates and gaps, a resynchronisation, deregistration.

use reqwest::Method;
use serde_json::json;

use super::*;

#[tokio::test]
async fn registration_is_idempotent_and_sorts_the_policies() {
    let h = start().await;
    let a = h
        .register(CONTOSO, &["standard", "Phishing", "Quarantine"])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body,
        json!({"registered": true, "tenantId": CONTOSO, "acceptedPolicies": ["Standard", "Phishing"],
               "unknownPolicies": ["Quarantine"], "watermark": 0, "resyncRequested": false,
               "snapshotComplete": false})
    );
    assert_eq!(
        h.deliver(
            CONTOSO,
            json!({"sequence": 1, "type": "protectedSet", "added": ["u1"]})
        )
        .await
        .status,
        200
    );
    // Again, in upper case and with other policies: the stream stays where it was.
    let again = h.register(&CONTOSO.to_uppercase(), &["Strict"]).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["tenantId"], CONTOSO);
    assert_eq!(again.body["watermark"], 1);
    assert_eq!(again.body["acceptedPolicies"], json!(["Strict"]));
    let policies = h.read(&format!("/_sim/tenants/{CONTOSO}/policies")).await;
    assert_eq!(policies["accepted"], json!(["Strict"]));
    assert_eq!(policies["offered"].as_array().unwrap().len(), 7);

    let inline = json!({"tenantId": FABRIKAM, "cloud": "USGovGCCHigh", "mode": "Inline", "scope": "Selected"});
    let a = h
        .send(
            Method::PUT,
            &format!("/v1/tenants/{FABRIKAM}"),
            Some(inline.clone()),
        )
        .await;
    assert_problem(&a, 400, "malformed");
    assert!(a.body["detail"].as_str().unwrap().contains("direction"));
    let mut inline = inline;
    inline["direction"] = json!("InboundOutbound");
    let a = h
        .send(
            Method::PUT,
            &format!("/v1/tenants/{FABRIKAM}"),
            Some(inline),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let other = h
        .send(
            Method::PUT,
            &format!("/v1/tenants/{FABRIKAM}"),
            Some(json!({"tenantId": CONTOSO, "cloud": "Global", "mode": "Api", "scope": "All"})),
        )
        .await;
    assert_problem(&other, 400, "malformed");
    let not_guid = h.register("contoso.onmicrosoft.com", &[]).await;
    assert_problem(&not_guid, 400, "malformed");
    let tenants = h.read("/_sim/tenants").await;
    assert_eq!(tenants["tenants"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_snapshot_in_pages_then_changes_protected_set_and_token_health() {
    let h = start().await;
    h.register(CONTOSO, &["Standard"]).await;
    let t = |s: &str| format!("/_sim/tenants/{CONTOSO}{s}");
    let steps = [
        json!({"sequence": 1, "type": "snapshotBegin", "snapshotId": "s1"}),
        json!({"sequence": 2, "type": "snapshotPage", "snapshotId": "s1",
               "users": [user("u1"), user("u2"), user("u3")],
               "groups": [{"id": "g1", "displayName": "Sales", "members": ["u1", "u2"]}]}),
        json!({"sequence": 3, "type": "snapshotPage", "snapshotId": "s1", "users": [user("u3"), user("u4")]}),
    ];
    for step in steps {
        let a = h.deliver(CONTOSO, step.clone()).await;
        assert_eq!(a.status, 200, "{step}: {}", a.body);
        assert_eq!(a.body["duplicate"], false);
        assert_eq!(a.body["acknowledged"], step["sequence"]);
    }
    let cursor = h.cursor(CONTOSO).await;
    assert_eq!(
        cursor.body,
        json!({"watermark": 3, "resyncRequested": false, "snapshotComplete": false, "openSnapshotId": "s1"})
    );
    assert_eq!(
        h.read(&t("/users")).await["users"],
        json!([]),
        "nothing replaced before the end"
    );

    let end = h.deliver(CONTOSO, json!({"sequence": 4, "type": "snapshotEnd", "snapshotId": "s1", "userCount": 4, "groupCount": 1})).await;
    assert_eq!(
        end.body,
        json!({"acknowledged": 4, "watermark": 4, "duplicate": false, "resyncRequested": false})
    );
    assert_eq!(
        ids(&h.read(&t("/users")).await["users"]),
        ["u1", "u2", "u3", "u4"]
    );
    assert_eq!(h.read(&t("/users")).await["users"][0], user("u1"));

    let more = [
        json!({"sequence": 5, "type": "changes", "users": [user("u5")], "removedUsers": ["u1"],
               "groups": [{"id": "g2", "displayName": "Legal", "members": ["u5"]}], "removedGroups": ["g1"]}),
        json!({"sequence": 6, "type": "protectedSet", "added": ["u2", "u3"], "replace": true}),
        json!({"sequence": 7, "type": "protectedSet", "added": ["u5"], "removed": ["u2"]}),
        json!({"sequence": 8, "type": "tokenHealth", "state": "Valid", "since": "2025-06-01T10:00:00Z"}),
        json!({"sequence": 9, "type": "tokenHealth", "state": "Expired", "since": "2025-06-02T10:00:00Z", "reason": "RefreshTokenExpired"}),
    ];
    for step in more {
        let a = h.deliver(CONTOSO, step.clone()).await;
        assert_eq!(a.status, 200, "{step}: {}", a.body);
    }
    assert_eq!(
        ids(&h.read(&t("/users")).await["users"]),
        ["u2", "u3", "u4", "u5"]
    );
    assert_eq!(ids(&h.read(&t("/groups")).await["groups"]), ["g2"]);
    assert_eq!(
        h.read(&t("/protected")).await["protected"],
        json!(["u3", "u5"])
    );
    let health = h.read(&t("/token-health")).await;
    assert_eq!(health["current"]["state"], "Expired");
    assert_eq!(health["current"]["reason"], "RefreshTokenExpired");
    assert_eq!(health["history"].as_array().unwrap().len(), 2);
    let tenant = h.read(&t("")).await;
    assert_eq!(tenant["watermark"], 9);
    assert_eq!(tenant["snapshotComplete"], true);
    assert_eq!(tenant["lastDelivery"]["sequence"], 9);
    assert_eq!(tenant["lastDelivery"]["type"], "tokenHealth");
    assert_eq!(
        tenant["counters"]["acknowledged"],
        json!({"snapshotBegin": 1, "snapshotPage": 2, "snapshotEnd": 1, "changes": 1, "protectedSet": 2, "tokenHealth": 2})
    );
}

#[tokio::test]
async fn duplicates_are_acknowledged_once_and_gaps_refused() {
    let h = start().await;
    h.register(CONTOSO, &[]).await;
    let first = json!({"sequence": 1, "type": "changes", "users": [user("a")]});
    assert_eq!(
        h.deliver_as(CONTOSO, "msg-one", first.clone()).await.status,
        200
    );
    assert_eq!(
        h.deliver(
            CONTOSO,
            json!({"sequence": 2, "type": "changes", "users": [user("b")]})
        )
        .await
        .status,
        200
    );

    // The same message again (a retry whose answer was lost).
    let again = h.deliver_as(CONTOSO, "msg-one", first).await;
    assert_eq!(
        again.body,
        json!({"acknowledged": 1, "watermark": 2, "duplicate": true, "resyncRequested": false})
    );
    // An old sequence under a new id, with other content: not applied either.
    let other = h
        .deliver(
            CONTOSO,
            json!({"sequence": 2, "type": "changes", "users": [user("intruder")]}),
        )
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(other.body["duplicate"], true);
    assert_eq!(
        ids(&h.read(&format!("/_sim/tenants/{CONTOSO}/users")).await["users"]),
        ["a", "b"]
    );

    let gap = h
        .deliver(CONTOSO, json!({"sequence": 5, "type": "changes"}))
        .await;
    assert_problem(&gap, 409, "sequence-gap");
    assert_eq!(gap.body["expected"], 3);
    assert_eq!(gap.body["watermark"], 2);
    // An id acknowledged before, on a new sequence: a sender's bug.
    let reused = h
        .deliver_as(
            CONTOSO,
            "msg-one",
            json!({"sequence": 3, "type": "changes"}),
        )
        .await;
    assert_problem(&reused, 422, "rejected");
    // A refused delivery does not use up its sequence.
    let not_open = h
        .deliver(
            CONTOSO,
            json!({"sequence": 3, "type": "snapshotPage", "snapshotId": "x"}),
        )
        .await;
    assert_problem(&not_open, 422, "rejected");
    let malformed = h
        .deliver(CONTOSO, json!({"sequence": 3, "type": "somethingNew"}))
        .await;
    assert_problem(&malformed, 400, "malformed");
    assert_eq!(
        h.deliver(
            CONTOSO,
            json!({"sequence": 3, "type": "snapshotBegin", "snapshotId": "x"})
        )
        .await
        .status,
        200
    );

    let counters = h.read(&format!("/_sim/tenants/{CONTOSO}/counters")).await;
    assert_eq!(counters["duplicates"], json!({"changes": 2}));
    assert_eq!(counters["gaps"], 1);
    assert_eq!(counters["rejected"], 3);
    assert_eq!(
        counters["acknowledged"],
        json!({"changes": 2, "snapshotBegin": 1})
    );

    let unknown = h
        .deliver(FABRIKAM, json!({"sequence": 1, "type": "changes"}))
        .await;
    assert_problem(&unknown, 404, "not-registered");
    assert_problem(&h.cursor(FABRIKAM).await, 404, "not-registered");
}

#[tokio::test]
async fn a_resync_request_holds_until_a_snapshot_ends() {
    let h = start().await;
    h.register(CONTOSO, &[]).await;
    assert_eq!(
        h.deliver(
            CONTOSO,
            json!({"sequence": 1, "type": "changes", "users": [user("a")]})
        )
        .await
        .status,
        200
    );
    let asked = h
        .control(
            Method::POST,
            &format!("/_sim/tenants/{CONTOSO}/resync"),
            None,
        )
        .await;
    assert_eq!(asked.status, 200);
    assert_eq!(h.cursor(CONTOSO).await.body["resyncRequested"], true);
    assert_eq!(h.register(CONTOSO, &[]).await.body["resyncRequested"], true);
    let changes = h
        .deliver(
            CONTOSO,
            json!({"sequence": 2, "type": "changes", "users": [user("b")]}),
        )
        .await;
    assert_eq!(changes.body["resyncRequested"], true);
    let gap = h
        .deliver(CONTOSO, json!({"sequence": 9, "type": "changes"}))
        .await;
    assert_eq!(gap.body["resyncRequested"], true);
    let begin = h
        .deliver(
            CONTOSO,
            json!({"sequence": 3, "type": "snapshotBegin", "snapshotId": "r"}),
        )
        .await;
    assert_eq!(begin.body["resyncRequested"], true);
    h.deliver(
        CONTOSO,
        json!({"sequence": 4, "type": "snapshotPage", "snapshotId": "r", "users": [user("c")]}),
    )
    .await;
    let end = h.deliver(CONTOSO, json!({"sequence": 5, "type": "snapshotEnd", "snapshotId": "r", "userCount": 1, "groupCount": 0})).await;
    assert_eq!(end.body["resyncRequested"], false);
    assert_eq!(h.cursor(CONTOSO).await.body["resyncRequested"], false);
    assert_eq!(
        ids(&h.read(&format!("/_sim/tenants/{CONTOSO}/users")).await["users"]),
        ["c"]
    );
    let unknown = h
        .control(
            Method::POST,
            &format!("/_sim/tenants/{FABRIKAM}/resync"),
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn deregistration_is_idempotent_and_forgets_the_stream() {
    let h = start().await;
    h.register(CONTOSO, &[]).await;
    h.deliver(
        CONTOSO,
        json!({"sequence": 1, "type": "changes", "users": [user("a")]}),
    )
    .await;
    let path = format!("/v1/tenants/{CONTOSO}");
    let gone = h.send(Method::DELETE, &path, None).await;
    assert_eq!(
        gone.body,
        json!({"deregistered": true, "wasRegistered": true})
    );
    let again = h.send(Method::DELETE, &path, None).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.body,
        json!({"deregistered": true, "wasRegistered": false})
    );
    assert_problem(&h.cursor(CONTOSO).await, 404, "not-registered");
    assert_problem(
        &h.deliver(CONTOSO, json!({"sequence": 2, "type": "changes"}))
            .await,
        404,
        "not-registered",
    );
    let back = h.register(CONTOSO, &[]).await;
    assert_eq!(back.body["watermark"], 0);
    assert_eq!(
        h.read(&format!("/_sim/tenants/{CONTOSO}/users")).await["users"],
        json!([])
    );
}

#[tokio::test]
async fn the_same_sequence_sent_at_once_is_applied_once() {
    let h = start().await;
    h.register(CONTOSO, &[]).await;
    let sends = (0..8).map(|i| {
        h.deliver(
            CONTOSO,
            json!({"sequence": 1, "type": "changes", "users": [user(&format!("racer{i}"))]}),
        )
    });
    let answers = futures::future::join_all(sends).await;
    assert!(answers.iter().all(|a| a.status == 200));
    let applied = answers
        .iter()
        .filter(|a| a.body["duplicate"] == false)
        .count();
    assert_eq!(applied, 1);
    assert_eq!(
        h.read(&format!("/_sim/tenants/{CONTOSO}/users")).await["users"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn bodies_over_four_mebibytes_are_refused() {
    let h = start().await;
    h.register(CONTOSO, &[]).await;
    // Under the bound (3 MiB): read and judged on its content.
    let filler = "x".repeat(3 * 1024 * 1024);
    let a = h
        .deliver(
            CONTOSO,
            json!({"sequence": 1, "type": "changes", "padding": filler}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let filler = "x".repeat(5 * 1024 * 1024);
    let a = h
        .deliver(
            CONTOSO,
            json!({"sequence": 2, "type": "changes", "padding": filler}),
        )
        .await;
    assert_problem(&a, 413, "too-large");
    assert_eq!(h.cursor(CONTOSO).await.body["watermark"], 1);
}

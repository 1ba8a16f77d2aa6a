//! `mailboxCatchUp` deliveries: signed, sequenced and acknowledged like every other message,
//! visible at `/_sim/tenants/{tenantId}/catch-ups`, kept across a restart; malformed ones
//! refused with 400 without using up their sequence.

use reqwest::Method;
use serde_json::json;

use super::*;

const ALICE: &str = "7d3e9f4a-1b2c-4d5e-8f6a-0b1c2d3e4f5a";
const BOB: &str = "8e4f0a5b-2c3d-4e6f-9a7b-1c2d3e4f5a6b";

/// A `mailboxCatchUp` delivery.
fn catch_up(sequence: u64, users: &[&str], since: &str, reason: &str) -> Value {
    json!({"sequence": sequence, "type": "mailboxCatchUp", "userIds": users,
           "since": since, "reason": reason})
}

#[tokio::test]
async fn catch_ups_are_delivered_in_sequence_and_kept() {
    let dir =
        std::env::temp_dir().join(format!("exo-sim-service-catch-ups-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let h = start_with(ServiceOptions {
        state_file: Some(dir.join("state.json")),
        ..ServiceOptions::new(SECRET)
    })
    .await;
    h.register(CONTOSO, &[]).await;
    let path = format!("/_sim/tenants/{CONTOSO}/catch-ups");
    assert_eq!(h.read(&path).await, json!({"requests": 0, "users": {}}));

    let first = catch_up(
        1,
        &[ALICE, &BOB.to_uppercase()],
        "2025-03-01T08:00:00Z",
        "Missed",
    );
    let a = h.deliver_as(CONTOSO, "catch-up-1", first.clone()).await;
    assert_eq!(
        a.body,
        json!({"acknowledged": 1, "watermark": 1, "duplicate": false, "resyncRequested": false})
    );
    // The retry of a lost answer is a duplicate: nothing applied again.
    let again = h.deliver_as(CONTOSO, "catch-up-1", first).await;
    assert_eq!(again.body["duplicate"], true, "{}", again.body);
    let a = h
        .deliver(
            CONTOSO,
            catch_up(
                2,
                &[BOB],
                "2025-03-02T09:30:00+01:00",
                "SubscriptionRecreated",
            ),
        )
        .await;
    assert_eq!(a.body["acknowledged"], 2, "{}", a.body);
    let expected = json!({"requests": 2, "users": {
        ALICE: {"since": "2025-03-01T08:00:00Z", "reason": "Missed"},
        BOB: {"since": "2025-03-02T09:30:00+01:00", "reason": "SubscriptionRecreated"},
    }});
    assert_eq!(h.read(&path).await, expected);

    // A gap is refused as for any other type.
    let gap = h
        .deliver(
            CONTOSO,
            catch_up(4, &[ALICE], "2025-03-03T00:00:00Z", "Missed"),
        )
        .await;
    assert_problem(&gap, 409, "sequence-gap");
    assert_eq!(gap.body["expected"], 3);

    let counters = h.read(&format!("/_sim/tenants/{CONTOSO}/counters")).await;
    assert_eq!(counters["acknowledged"]["mailboxCatchUp"], 2);
    assert_eq!(counters["acknowledgedItems"]["mailboxCatchUp"], 3);
    assert_eq!(counters["duplicates"]["mailboxCatchUp"], 1);
    let tenant = h.read(&format!("/_sim/tenants/{CONTOSO}")).await;
    assert_eq!(tenant["catchUps"], 2);
    assert_eq!(tenant["lastDelivery"]["type"], "mailboxCatchUp");

    // Acknowledged, so on disk: a restart keeps it.
    h.control(Method::POST, "/_sim/restart", None).await;
    assert_eq!(h.read(&path).await, expected);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_malformed_catch_up_is_400_and_does_not_use_up_its_sequence() {
    let h = start().await;
    h.register(CONTOSO, &[]).await;
    let since = "2025-03-01T08:00:00Z";
    let many: Vec<String> = (0..1001)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let malformed = [
        catch_up(1, &[], since, "Missed"),
        catch_up(1, &many, since, "Missed"),
        catch_up(1, &[ALICE, &ALICE.to_uppercase()], since, "Missed"),
        catch_up(1, &["alice@contoso.com"], since, "Missed"),
        catch_up(1, &[ALICE], "yesterday", "Missed"),
        catch_up(1, &[ALICE], since, "Bored"),
        json!({"sequence": 1, "type": "mailboxCatchUp", "userIds": [ALICE], "reason": "Missed"}),
        json!({"sequence": 1, "type": "mailboxCatchUp", "since": since, "reason": "Missed"}),
        json!({"sequence": 1, "type": "mailboxCatchUp", "userIds": [ALICE], "since": since}),
    ];
    for delivery in malformed {
        let a = h.deliver(CONTOSO, delivery.clone()).await;
        assert_problem(&a, 400, "malformed");
        assert_eq!(h.cursor(CONTOSO).await.body["watermark"], 0, "{delivery}");
    }
    assert_eq!(
        h.read(&format!("/_sim/tenants/{CONTOSO}/catch-ups")).await["requests"],
        0
    );
    // The same sequence, well formed, with a new id: applied. Every documented reason is
    // taken; 1,000 ids are.
    let reasons = [
        "Missed",
        "SubscriptionRemoved",
        "ReauthorizationRequired",
        "SubscriptionRecreated",
    ];
    for (n, reason) in reasons.iter().enumerate() {
        let a = h
            .deliver(
                CONTOSO,
                catch_up(n as u64 + 1, &many[..1000], since, reason),
            )
            .await;
        assert_eq!(a.body["acknowledged"], n + 1, "{}", a.body);
    }
    let catch_ups = h.read(&format!("/_sim/tenants/{CONTOSO}/catch-ups")).await;
    assert_eq!(catch_ups["requests"], 4);
    assert_eq!(catch_ups["users"].as_object().unwrap().len(), 1000);
    assert_eq!(
        catch_ups["users"][many[0]]["reason"],
        "SubscriptionRecreated"
    );
    assert_eq!(
        h.read(&format!("/_sim/tenants/{CONTOSO}/counters")).await["rejected"],
        9
    );
}

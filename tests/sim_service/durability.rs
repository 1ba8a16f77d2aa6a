//! Nothing acknowledged is lost: restarts from the state file (the simulated one and a new
//! process on the same file), lost acknowledgements, and faults with `Retry-After`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use super::*;

/// A fresh folder for a state file.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("exo-sim-service-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_restart_from_the_state_file_loses_nothing_acknowledged() {
    let dir = folder("restart");
    let state = dir.join("state.json");
    let opts = ServiceOptions {
        state_file: Some(state.clone()),
        ..ServiceOptions::new(SECRET)
    };
    let h = start_with(opts.clone()).await;
    h.register(CONTOSO, &["Strict"]).await;
    for n in 1..=20u64 {
        let a = h
            .deliver(
                CONTOSO,
                json!({"sequence": n, "type": "changes", "users": [user(&format!("u{n:02}"))]}),
            )
            .await;
        assert_eq!(a.body["acknowledged"], n, "{}", a.body);
    }
    h.deliver(
        CONTOSO,
        json!({"sequence": 21, "type": "snapshotBegin", "snapshotId": "open"}),
    )
    .await;
    h.deliver(CONTOSO, json!({"sequence": 22, "type": "snapshotPage", "snapshotId": "open", "users": [user("staged")]})).await;
    h.control(
        Method::POST,
        &format!("/_sim/tenants/{CONTOSO}/resync"),
        None,
    )
    .await;
    assert!(state.exists() && !dir.join("state.json.tmp").exists());

    // The simulated restart: memory dropped, the file read again, counters reset.
    let r = h.control(Method::POST, "/_sim/restart", None).await;
    assert_eq!(r.body, json!({"restarted": true, "tenants": 1}));
    let cursor = h.cursor(CONTOSO).await;
    assert_eq!(
        cursor.body,
        json!({"watermark": 22, "resyncRequested": true, "snapshotComplete": false, "openSnapshotId": "open"})
    );
    assert_eq!(
        h.read(&format!("/_sim/tenants/{CONTOSO}/users")).await["users"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    assert_eq!(
        h.read(&format!("/_sim/tenants/{CONTOSO}/counters")).await["acknowledged"],
        json!({})
    );

    // A new process on the same file: the stream goes on where it stood.
    h.service.shutdown().await;
    let h = start_with(opts).await;
    let again = h.register(CONTOSO, &["Strict"]).await;
    assert_eq!(again.body["watermark"], 22);
    let end = h.deliver(CONTOSO, json!({"sequence": 23, "type": "snapshotEnd", "snapshotId": "open", "userCount": 1, "groupCount": 0})).await;
    assert_eq!(end.status, 200, "{}", end.body);
    assert_eq!(end.body["resyncRequested"], false);
    assert_eq!(
        ids(&h.read(&format!("/_sim/tenants/{CONTOSO}/users")).await["users"]),
        ["staged"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_memory_only_restart_forgets_everything() {
    let h = start().await;
    h.register(CONTOSO, &[]).await;
    let r = h.control(Method::POST, "/_sim/restart", None).await;
    assert_eq!(r.body["tenants"], 0);
    assert_problem(&h.cursor(CONTOSO).await, 404, "not-registered");
}

#[tokio::test]
async fn a_lost_acknowledgement_is_retried_as_a_duplicate() {
    let h = start().await;
    h.register(CONTOSO, &[]).await;
    let fault = json!({"status": 503, "retryAfter": 1, "count": 1, "afterApply": true, "path": "^POST .*/deliveries$"});
    assert_eq!(
        h.control(Method::POST, "/_sim/faults", Some(fault))
            .await
            .status,
        200
    );
    let delivery = json!({"sequence": 1, "type": "changes", "users": [user("a")]});
    let lost = h.deliver_as(CONTOSO, "msg-lost", delivery.clone()).await;
    assert_problem(&lost, 503, "unavailable");
    assert_eq!(lost.header("retry-after"), Some("1"));
    let retry = h.deliver_as(CONTOSO, "msg-lost", delivery).await;
    assert_eq!(
        retry.body,
        json!({"acknowledged": 1, "watermark": 1, "duplicate": true, "resyncRequested": false})
    );
    let counters = h.read(&format!("/_sim/tenants/{CONTOSO}/counters")).await;
    assert_eq!(counters["acknowledged"], json!({"changes": 1}));
    assert_eq!(counters["duplicates"], json!({"changes": 1}));
}

#[tokio::test]
async fn faults_answer_with_retry_after_then_clear() {
    let h = start().await;
    h.register(CONTOSO, &[]).await;
    let add = |v| h.control(Method::POST, "/_sim/faults", Some(v));
    assert_eq!(
        add(json!({"status": 429, "retryAfter": 3, "count": 2}))
            .await
            .status,
        200
    );
    for _ in 0..2 {
        let a = h
            .deliver(CONTOSO, json!({"sequence": 1, "type": "changes"}))
            .await;
        assert_problem(&a, 429, "throttled");
        assert_eq!(a.header("retry-after"), Some("3"));
    }
    assert_eq!(
        h.deliver(CONTOSO, json!({"sequence": 1, "type": "changes"}))
            .await
            .status,
        200
    );
    assert_eq!(
        h.cursor(CONTOSO).await.body["watermark"],
        1,
        "a refused request applied nothing"
    );

    // For a while: 503 until it ends (waited for, not slept).
    assert_eq!(
        add(json!({"status": 503, "retryAfter": 1, "durationMs": 300}))
            .await
            .status,
        200
    );
    let a = h
        .deliver(CONTOSO, json!({"sequence": 2, "type": "changes"}))
        .await;
    assert_problem(&a, 503, "unavailable");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = h
            .deliver(CONTOSO, json!({"sequence": 2, "type": "changes"}))
            .await;
        if a.status == 200 {
            break;
        }
        assert_eq!(a.status, 503);
        assert!(Instant::now() < deadline, "the timed fault never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Latency, on health only; the control API is never faulted.
    assert_eq!(
        add(json!({"latencyMs": 300, "path": "^GET /v1/health$", "count": 1}))
            .await
            .status,
        200
    );
    let started = Instant::now();
    assert_eq!(
        answer(h.http.get(h.url("/v1/health")).send().await.unwrap())
            .await
            .status,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(add(json!({"status": 500})).await.status, 200);
    assert_eq!(
        h.read("/_sim/faults").await["faults"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(h.cursor(CONTOSO).await.status, 500);
    assert_eq!(
        h.control(Method::DELETE, "/_sim/faults", None).await.status,
        200
    );
    assert_eq!(h.cursor(CONTOSO).await.status, 200);
    assert!(
        h.read("/_sim/counters").await["faultsInjected"]
            .as_u64()
            .unwrap()
            >= 4
    );
}

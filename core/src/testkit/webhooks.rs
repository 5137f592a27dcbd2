//! Contract checks for outbound webhooks: an agent's endpoint, and the delivery outbox (round
//! trips, the compare-and-swap on attempts, listing, the due sweep).
//!
//! The due sweep (`due_deliveries`) sees every agent's rows, so its check works a year in the
//! past, looks only at its own agent's rows where order matters, and settles its rows afterwards;
//! every other delivery here is due only in ten years.

use chrono::Duration;
use futures::future::join_all;
use serde_json::json;

use crate::domain::{DeliveryStatus, WebhookDelivery, WebhookEndpoint};
use crate::error::{ErrorKind, Result};
use crate::ports::Stores;

use super::{far_future, kind, now_ms, unique};

/// Webhook endpoints: one per agent, put creates or replaces, delete once.
pub async fn webhook_endpoints(stores: &Stores) -> Result<()> {
    let s = &stores.webhooks;
    let (agent, other) = (unique("agt"), unique("agt"));
    let now = now_ms();
    let endpoint = WebhookEndpoint {
        agent_id: agent.clone(),
        url: Some("https://hooks.test/molts?a=1&b=%20".to_owned()),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/B2tfOm6bQ8=".to_owned(),
        created_at: now,
        updated_at: now,
    };
    s.put_endpoint(&endpoint).await?;
    assert_eq!(s.get_endpoint(&agent).await?, Some(endpoint.clone()));
    assert_eq!(s.get_endpoint(&other).await?, None);

    let replaced = WebhookEndpoint {
        url: None,
        secret: "whsec_dGhlIG5ldyBzZWNyZXQgb2YgdGhpcnR5LXR3byBieXRlcw==".to_owned(),
        updated_at: now + Duration::seconds(3),
        ..endpoint.clone()
    };
    s.put_endpoint(&replaced).await?;
    assert_eq!(s.get_endpoint(&agent).await?, Some(replaced.clone()));
    let others = WebhookEndpoint {
        agent_id: other.clone(),
        ..endpoint
    };
    s.put_endpoint(&others).await?;

    assert!(s.delete_endpoint(&agent).await?);
    assert!(!s.delete_endpoint(&agent).await?);
    assert_eq!(s.get_endpoint(&agent).await?, None);
    assert_eq!(s.get_endpoint(&other).await?, Some(others));
    Ok(())
}

fn delivery(agent_id: &str, job_id: &str, event_type: &str) -> WebhookDelivery {
    let now = now_ms();
    WebhookDelivery {
        id: unique("msg"),
        agent_id: agent_id.to_owned(),
        job_id: job_id.to_owned(),
        event_type: event_type.to_owned(),
        url: "https://hooks.test/molts".to_owned(),
        payload: json!({
            "type": event_type,
            "data": {"job_id": job_id, "note": "✨ \"quoted\"\n"}
        })
        .to_string(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: far_future(),
        last_status: None,
        last_error: None,
        created_at: now,
        delivered_at: None,
    }
}

/// Deliveries: every field round-trips, an id is queued once, `update_delivery` is a
/// compare-and-swap on `attempts` (a missing delivery is `NotFound`), listing is one agent's,
/// newest first, optionally for one job.
pub async fn webhook_deliveries(stores: &Stores) -> Result<()> {
    let s = &stores.webhooks;
    let agent = unique("agt");
    let job = unique("job");
    let pending = delivery(&agent, &job, "job.ready");
    let delivered = WebhookDelivery {
        status: DeliveryStatus::Delivered,
        attempts: 4,
        last_status: Some(204),
        last_error: Some("earlier: connection reset".to_owned()),
        delivered_at: Some(now_ms() + Duration::milliseconds(7)),
        ..delivery(&agent, &unique("job"), "job.failed")
    };
    s.insert_delivery(&pending).await?;
    s.insert_delivery(&delivered).await?;
    assert_eq!(s.get_delivery(&pending.id).await?, Some(pending.clone()));
    assert_eq!(
        s.get_delivery(&delivered.id).await?,
        Some(delivered.clone())
    );
    assert_eq!(s.get_delivery(&unique("msg")).await?, None);
    // The same event queued twice is a conflict and changes nothing.
    let again = WebhookDelivery {
        url: "https://elsewhere.test/".to_owned(),
        ..pending.clone()
    };
    assert_eq!(
        kind(s.insert_delivery(&again).await),
        Some(ErrorKind::Conflict)
    );
    assert_eq!(s.get_delivery(&pending.id).await?, Some(pending.clone()));

    let retried = WebhookDelivery {
        attempts: 1,
        last_status: Some(503),
        last_error: Some("503 Service Unavailable".to_owned()),
        next_attempt_at: far_future() + Duration::seconds(30),
        ..pending.clone()
    };
    assert!(!s.update_delivery(&retried, 1).await?);
    assert_eq!(s.get_delivery(&pending.id).await?, Some(pending.clone()));
    assert!(s.update_delivery(&retried, 0).await?);
    assert_eq!(s.get_delivery(&pending.id).await?, Some(retried.clone()));
    assert!(!s.update_delivery(&retried, 0).await?);
    let done = WebhookDelivery {
        attempts: 2,
        status: DeliveryStatus::Delivered,
        last_status: Some(200),
        last_error: None,
        delivered_at: Some(now_ms()),
        ..retried.clone()
    };
    assert!(s.update_delivery(&done, 1).await?);
    assert_eq!(s.get_delivery(&pending.id).await?, Some(done.clone()));
    let missing = delivery(&agent, &job, "job.ready");
    assert_eq!(
        kind(s.update_delivery(&missing, 0).await),
        Some(ErrorKind::NotFound)
    );
    assert_eq!(s.get_delivery(&missing.id).await?, None);

    // Listing: newest first by creation time, which delivery ids do not follow.
    let lister = unique("agt");
    let (job_a, job_b) = (unique("job"), unique("job"));
    let base = now_ms();
    let at = |d: WebhookDelivery, seconds_ago: i64| WebhookDelivery {
        created_at: base - Duration::seconds(seconds_ago),
        ..d
    };
    let d0 = at(delivery(&lister, &job_a, "job.ready"), 1);
    let d1 = at(delivery(&lister, &job_b, "job.failed"), 2);
    let d2 = at(delivery(&lister, &job_a, "job.failed"), 3);
    let d3 = at(delivery(&lister, &job_b, "job.ready"), 4);
    for d in [&d2, &d0, &d3, &d1] {
        s.insert_delivery(d).await?;
    }
    s.insert_delivery(&delivery(&unique("agt"), &job_a, "job.ready"))
        .await?;
    let ids = |rows: Vec<WebhookDelivery>| rows.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_deliveries(&lister, None, 100).await?),
        vec![d0.id.clone(), d1.id.clone(), d2.id.clone(), d3.id.clone()]
    );
    assert_eq!(
        s.list_deliveries(&lister, Some(&job_a), 100).await?,
        vec![d0.clone(), d2.clone()]
    );
    assert_eq!(
        ids(s.list_deliveries(&lister, Some(&job_b), 1).await?),
        vec![d1.id.clone()]
    );
    assert_eq!(
        ids(s.list_deliveries(&lister, None, 2).await?),
        vec![d0.id.clone(), d1.id.clone()]
    );
    assert!(
        s.list_deliveries(&lister, Some(&unique("job")), 100)
            .await?
            .is_empty()
    );
    assert!(
        s.list_deliveries(&unique("agt"), None, 100)
            .await?
            .is_empty()
    );
    Ok(())
}

/// `racers` concurrent compare-and-swaps on one attempt count: exactly one wins.
pub async fn webhook_deliveries_concurrent(stores: &Stores, racers: usize) -> Result<()> {
    let d = delivery(&unique("agt"), &unique("job"), "job.ready");
    stores.webhooks.insert_delivery(&d).await?;
    let updates: Vec<WebhookDelivery> = (0..racers)
        .map(|i| WebhookDelivery {
            attempts: 1,
            last_error: Some(format!("racer {i}")),
            ..d.clone()
        })
        .collect();
    let outcomes = join_all(
        updates
            .iter()
            .map(|u| stores.webhooks.update_delivery(u, 0)),
    )
    .await;
    let mut won = Vec::new();
    for (update, outcome) in updates.iter().zip(outcomes) {
        if outcome? {
            won.push(update.clone());
        }
    }
    assert_eq!(
        won.len(),
        1,
        "{} of {racers} updates on one attempt count won",
        won.len()
    );
    assert_eq!(
        stores.webhooks.get_delivery(&d.id).await?,
        won.into_iter().next()
    );
    Ok(())
}

/// `due_deliveries`: only pending deliveries due at or before `now`, earliest first, at most
/// `limit`.
pub async fn webhook_deliveries_due(stores: &Stores) -> Result<()> {
    let s = &stores.webhooks;
    let agent = unique("agt");
    let job = unique("job");
    let now = now_ms() - Duration::days(365);
    let at = |status: DeliveryStatus, minutes: i64| WebhookDelivery {
        status,
        next_attempt_at: now + Duration::minutes(minutes),
        ..delivery(&agent, &job, "job.ready")
    };
    let late = at(DeliveryStatus::Pending, -1);
    let early = at(DeliveryStatus::Pending, -3);
    let exactly_now = at(DeliveryStatus::Pending, 0);
    let future = at(DeliveryStatus::Pending, 1);
    let delivered = at(DeliveryStatus::Delivered, -5);
    let failed = at(DeliveryStatus::Failed, -4);
    for d in [&late, &early, &exactly_now, &future, &delivered, &failed] {
        s.insert_delivery(d).await?;
    }

    let all = s.due_deliveries(now, 1000).await?;
    assert!(
        all.iter()
            .all(|d| d.status == DeliveryStatus::Pending && d.next_attempt_at <= now),
        "due_deliveries listed a settled or not yet due delivery"
    );
    assert!(
        all.windows(2)
            .all(|w| w[0].next_attempt_at <= w[1].next_attempt_at),
        "due_deliveries is not earliest first"
    );
    let ours: Vec<&WebhookDelivery> = all.iter().filter(|d| d.agent_id == agent).collect();
    assert_eq!(ours, vec![&early, &late, &exactly_now]);
    let two = s.due_deliveries(now, 2).await?;
    assert_eq!(
        two.iter().map(|d| d.next_attempt_at).collect::<Vec<_>>(),
        all.iter()
            .take(2)
            .map(|d| d.next_attempt_at)
            .collect::<Vec<_>>()
    );
    assert!(s.due_deliveries(now, 0).await?.is_empty());

    // Settle them, so no later sweep on a shared database sees them.
    for d in [&late, &early, &exactly_now, &future] {
        let given_up = WebhookDelivery {
            status: DeliveryStatus::Failed,
            attempts: d.attempts + 1,
            ..d.clone()
        };
        assert!(s.update_delivery(&given_up, d.attempts).await?);
    }
    assert!(
        !s.due_deliveries(now, 1000)
            .await?
            .iter()
            .any(|d| d.agent_id == agent)
    );
    Ok(())
}

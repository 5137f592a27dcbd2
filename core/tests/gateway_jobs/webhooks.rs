//! Webhook deliveries of job events: signed (Standard Webhooks), retried on failure with the same
//! `webhook-id`, delivered once acknowledged, and given up after the retry schedule.

use molts_core::domain::DeliveryStatus;
use molts_core::gateway::{VideoSubmission, WebhookSettings, sign_webhook};
use molts_core::providers::JobProgress;

use crate::common::run;
use crate::world::{video, world};

#[test]
fn webhooks_are_signed_retried_and_delivered_once_acknowledged() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let endpoint =
            w.gw.set_webhook_endpoint(&agent, Some("http://127.0.0.1:9/agent-hook".into()), false)
                .await
                .unwrap();
        assert!(endpoint.secret.starts_with("whsec_"));
        let request = VideoSubmission {
            webhook_url: Some("http://127.0.0.1:9/request-hook".into()),
            ..video("Hi")
        };
        let job = w.gw.submit_video(&agent, request, None).await.unwrap().job;
        // The first attempt at each target fails with a 500, the retries succeed.
        w.hooks.0.lock().unwrap().1.extend([500, 500]);
        w.provider.ready();
        w.tick(5).await;
        {
            let sent = &w.hooks.0.lock().unwrap().0;
            assert_eq!(sent.len(), 2, "both targets attempted");
            for request in sent {
                let id = request.headers()["webhook-id"].to_str().unwrap();
                let ts: i64 = request.headers()["webhook-timestamp"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let sig = request.headers()["webhook-signature"].to_str().unwrap();
                let body = std::str::from_utf8(request.body()).unwrap();
                assert_eq!(sig, sign_webhook(&endpoint.secret, id, ts, body).unwrap());
                let event: serde_json::Value = serde_json::from_str(body).unwrap();
                assert_eq!(event["type"], "job.ready");
                assert_eq!(event["data"]["id"], job.id.as_str());
                assert_eq!(event["data"]["status"], "ready");
            }
        }
        let deliveries =
            w.gw.webhook_deliveries(&agent, Some(&job.id), None)
                .await
                .unwrap();
        assert_eq!(deliveries.len(), 2);
        assert!(
            deliveries
                .iter()
                .all(|d| d.status == DeliveryStatus::Pending
                    && d.attempts == 1
                    && d.last_status == Some(500))
        );

        w.tick(6).await;
        let deliveries =
            w.gw.webhook_deliveries(&agent, Some(&job.id), None)
                .await
                .unwrap();
        assert!(
            deliveries
                .iter()
                .all(|d| d.status == DeliveryStatus::Delivered && d.attempts == 2),
            "{deliveries:?}"
        );
        let ids: Vec<String> = w
            .hooks
            .0
            .lock()
            .unwrap()
            .0
            .iter()
            .map(|r| r.headers()["webhook-id"].to_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 4);
        let first: std::collections::BTreeSet<_> = ids[..2].iter().collect();
        let retries: std::collections::BTreeSet<_> = ids[2..].iter().collect();
        assert_eq!(first.len(), 2, "each target has its own id");
        assert_eq!(first, retries, "retries keep their webhook-id");
        // Nothing more is sent once acknowledged.
        w.tick(3600).await;
        assert_eq!(w.hooks.0.lock().unwrap().0.len(), 4);
    });
}

#[test]
fn an_endpoint_that_never_answers_ends_failed_after_the_schedule() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        w.gw.set_webhook_endpoint(&agent, Some("http://127.0.0.1:9/down".into()), false)
            .await
            .unwrap();
        let job = w.submitted(&agent, "Hi").await;
        w.hooks
            .0
            .lock()
            .unwrap()
            .1
            .extend(std::iter::repeat_n(503, 50));
        w.provider.then(JobProgress::Failed {
            message: "nope".into(),
        });
        for _ in 0..40 {
            w.tick(3600).await;
        }
        let deliveries =
            w.gw.webhook_deliveries(&agent, Some(&job.id), None)
                .await
                .unwrap();
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].event_type, "job.failed");
        assert_eq!(deliveries[0].status, DeliveryStatus::Failed);
        let schedule = WebhookSettings::default().retry_schedule.len() as u32;
        assert_eq!(deliveries[0].attempts, schedule + 1);
    });
}

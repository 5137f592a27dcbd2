//! `WebhookStore` over D1: agents' endpoints (one row per agent, replaced whole) and the delivery
//! outbox, whose attempts move by compare-and-swap (one conditional `UPDATE`; D1 runs statements
//! one at a time, so one of any number of racing callers wins).

use async_trait::async_trait;
use molts_core::domain::{DeliveryStatus, WebhookDelivery, WebhookEndpoint};
use molts_core::ports::WebhookStore;
use molts_core::{Error, Result, Timestamp};
use serde::Deserialize;

use crate::D1Store;
use crate::rows::{all, corrupt, ms, opt_time, parsed, time};
use crate::sql::{V, params};

#[derive(Deserialize)]
struct EndpointRow {
    agent_id: String,
    url: Option<String>,
    secret: String,
    created_at: i64,
    updated_at: i64,
}

impl EndpointRow {
    fn into_domain(self) -> Result<WebhookEndpoint> {
        Ok(WebhookEndpoint {
            created_at: time("webhook endpoint created_at", self.created_at)?,
            updated_at: time("webhook endpoint updated_at", self.updated_at)?,
            agent_id: self.agent_id,
            url: self.url,
            secret: self.secret,
        })
    }
}

const DELIVERY_COLS: &str = "id, agent_id, job_id, event_type, url, payload, status, attempts, \
                             next_attempt_at, last_status, last_error, created_at, delivered_at";

#[derive(Deserialize)]
struct DeliveryRow {
    id: String,
    agent_id: String,
    job_id: String,
    event_type: String,
    url: String,
    payload: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    delivered_at: Option<i64>,
}

impl DeliveryRow {
    fn into_domain(self) -> Result<WebhookDelivery> {
        Ok(WebhookDelivery {
            status: parsed("delivery status", &self.status, DeliveryStatus::parse)?,
            attempts: u32::try_from(self.attempts)
                .map_err(|_| corrupt("delivery attempts", self.attempts))?,
            next_attempt_at: time("delivery next_attempt_at", self.next_attempt_at)?,
            last_status: self
                .last_status
                .map(|s| u16::try_from(s).map_err(|_| corrupt("delivery last_status", s)))
                .transpose()?,
            created_at: time("delivery created_at", self.created_at)?,
            delivered_at: opt_time("delivery delivered_at", self.delivered_at)?,
            id: self.id,
            agent_id: self.agent_id,
            job_id: self.job_id,
            event_type: self.event_type,
            url: self.url,
            payload: self.payload,
            last_error: self.last_error,
        })
    }
}

/// The delivery's values in `DELIVERY_COLS` order (?1 … ?13).
fn delivery_params(d: &WebhookDelivery) -> Vec<V> {
    params![
        &d.id,
        &d.agent_id,
        &d.job_id,
        &d.event_type,
        &d.url,
        &d.payload,
        d.status.as_str(),
        i64::from(d.attempts),
        ms(d.next_attempt_at),
        d.last_status.map(i64::from),
        d.last_error.clone(),
        ms(d.created_at),
        d.delivered_at.map(ms),
    ]
}

#[async_trait]
impl WebhookStore for D1Store {
    async fn put_endpoint(&self, e: &WebhookEndpoint) -> Result<()> {
        // A replacement, all of it: the stored endpoint is exactly the one given.
        self.db
            .run(
                "INSERT INTO webhook_endpoints (agent_id, url, secret, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (agent_id) DO UPDATE SET \
                 url = excluded.url, secret = excluded.secret, created_at = excluded.created_at, \
                 updated_at = excluded.updated_at",
                params![
                    &e.agent_id,
                    e.url.clone(),
                    &e.secret,
                    ms(e.created_at),
                    ms(e.updated_at)
                ],
                |_| String::new(),
            )
            .await?;
        Ok(())
    }

    async fn get_endpoint(&self, agent_id: &str) -> Result<Option<WebhookEndpoint>> {
        let row: Option<EndpointRow> = self
            .db
            .row(
                "SELECT agent_id, url, secret, created_at, updated_at FROM webhook_endpoints \
                 WHERE agent_id = ?1",
                params![agent_id],
            )
            .await?;
        row.map(EndpointRow::into_domain).transpose()
    }

    async fn delete_endpoint(&self, agent_id: &str) -> Result<bool> {
        let changed = self
            .db
            .run(
                "DELETE FROM webhook_endpoints WHERE agent_id = ?1",
                params![agent_id],
                |_| String::new(),
            )
            .await?;
        Ok(changed > 0)
    }

    async fn insert_delivery(&self, d: &WebhookDelivery) -> Result<()> {
        let sql = format!(
            "INSERT INTO webhook_deliveries ({DELIVERY_COLS}) \
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"
        );
        self.db
            .run(&sql, delivery_params(d), |_| {
                format!("delivery '{}' already exists", d.id)
            })
            .await?;
        Ok(())
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<WebhookDelivery>> {
        let sql = format!("SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id = ?1");
        let row: Option<DeliveryRow> = self.db.row(&sql, params![id]).await?;
        row.map(DeliveryRow::into_domain).transpose()
    }

    async fn update_delivery(&self, d: &WebhookDelivery, expected_attempts: u32) -> Result<bool> {
        let mut values = delivery_params(d);
        values.push(V::Int(i64::from(expected_attempts)));
        let changed = self
            .db
            .run(
                "UPDATE webhook_deliveries SET agent_id = ?2, job_id = ?3, event_type = ?4, \
                 url = ?5, payload = ?6, status = ?7, attempts = ?8, next_attempt_at = ?9, \
                 last_status = ?10, last_error = ?11, created_at = ?12, delivered_at = ?13 \
                 WHERE id = ?1 AND attempts = ?14",
                values,
                |_| String::new(),
            )
            .await?;
        if changed > 0 {
            return Ok(true);
        }
        match self.get_delivery(&d.id).await? {
            Some(_) => Ok(false),
            None => Err(Error::not_found("delivery", &d.id)),
        }
    }

    async fn due_deliveries(&self, now: Timestamp, limit: u32) -> Result<Vec<WebhookDelivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE status = ?1 \
             AND next_attempt_at <= ?2 ORDER BY next_attempt_at, id LIMIT ?3"
        );
        let values = params![DeliveryStatus::Pending.as_str(), ms(now), i64::from(limit)];
        all(self.db.rows(&sql, values).await?, DeliveryRow::into_domain)
    }

    async fn list_deliveries(
        &self,
        agent_id: &str,
        job_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE agent_id = ?1 \
             AND (?2 IS NULL OR job_id = ?2) ORDER BY created_at DESC, id DESC LIMIT ?3"
        );
        let values = params![agent_id, job_id, i64::from(limit)];
        all(self.db.rows(&sql, values).await?, DeliveryRow::into_domain)
    }
}

//! `WebhookStore` over sea-orm: one endpoint row per agent (replaced on put) and the delivery
//! outbox, whose every change is one conditional `UPDATE … WHERE id = ? AND attempts = ?`.

use async_trait::async_trait;
use molts_core::domain::{DeliveryStatus, WebhookDelivery, WebhookEndpoint};
use molts_core::ports::WebhookStore;
use molts_core::{Error, Result, Timestamp};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, Order, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::convert::{Read, ms, opt_time, parsed, time};
use crate::entity::webhook_delivery::{self as delivery, Column as D};
use crate::entity::webhook_endpoint::{self as endpoint, Column as E};
use crate::error::{StoreError, from_db, on_write};
use crate::{SeaOrmStore, sort_key};

fn endpoint_row(e: &WebhookEndpoint) -> endpoint::Model {
    endpoint::Model {
        agent_id: e.agent_id.clone(),
        url: e.url.clone(),
        secret: e.secret.clone(),
        created_at: ms(e.created_at),
        updated_at: ms(e.updated_at),
    }
}

fn endpoint_from(m: endpoint::Model) -> Read<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        created_at: time("webhook endpoint created_at", m.created_at)?,
        updated_at: time("webhook endpoint updated_at", m.updated_at)?,
        agent_id: m.agent_id,
        url: m.url,
        secret: m.secret,
    })
}

fn delivery_row(d: &WebhookDelivery) -> delivery::Model {
    delivery::Model {
        id: d.id.clone(),
        agent_id: d.agent_id.clone(),
        job_id: d.job_id.clone(),
        event_type: d.event_type.clone(),
        url: d.url.clone(),
        payload: d.payload.clone(),
        status: d.status.as_str().to_owned(),
        attempts: i64::from(d.attempts),
        next_attempt_at: ms(d.next_attempt_at),
        last_status: d.last_status.map(i64::from),
        last_error: d.last_error.clone(),
        created_at: ms(d.created_at),
        delivered_at: d.delivered_at.map(ms),
    }
}

fn delivery_from(m: delivery::Model) -> Read<WebhookDelivery> {
    Ok(WebhookDelivery {
        status: parsed("delivery status", &m.status, DeliveryStatus::parse)?,
        attempts: u32::try_from(m.attempts)
            .map_err(|_| StoreError::corrupt("delivery attempts", m.attempts))?,
        next_attempt_at: time("delivery next_attempt_at", m.next_attempt_at)?,
        last_status: m
            .last_status
            .map(|s| u16::try_from(s).map_err(|_| StoreError::corrupt("delivery last_status", s)))
            .transpose()?,
        created_at: time("delivery created_at", m.created_at)?,
        delivered_at: opt_time("delivery delivered_at", m.delivered_at)?,
        id: m.id,
        agent_id: m.agent_id,
        job_id: m.job_id,
        event_type: m.event_type,
        url: m.url,
        payload: m.payload,
        last_error: m.last_error,
    })
}

fn deliveries(models: Vec<delivery::Model>) -> Result<Vec<WebhookDelivery>> {
    Ok(models
        .into_iter()
        .map(delivery_from)
        .collect::<Read<Vec<_>>>()?)
}

#[async_trait]
impl WebhookStore for SeaOrmStore {
    async fn put_endpoint(&self, e: &WebhookEndpoint) -> Result<()> {
        // A replacement, all of it: the stored endpoint is exactly the one given.
        let upsert = OnConflict::column(E::AgentId)
            .update_columns([E::Url, E::Secret, E::CreatedAt, E::UpdatedAt])
            .to_owned();
        endpoint::Entity::insert(endpoint_row(e).into_active_model())
            .on_conflict(upsert)
            .exec_without_returning(&self.db)
            .await
            .map_err(from_db)?;
        Ok(())
    }

    async fn get_endpoint(&self, agent_id: &str) -> Result<Option<WebhookEndpoint>> {
        let found = endpoint::Entity::find_by_id(agent_id)
            .one(&self.db)
            .await
            .map_err(from_db)?;
        Ok(found.map(endpoint_from).transpose()?)
    }

    async fn delete_endpoint(&self, agent_id: &str) -> Result<bool> {
        let done = endpoint::Entity::delete_by_id(agent_id)
            .exec(&self.db)
            .await
            .map_err(from_db)?;
        Ok(done.rows_affected > 0)
    }

    async fn insert_delivery(&self, d: &WebhookDelivery) -> Result<()> {
        delivery::Entity::insert(delivery_row(d).into_active_model().reset_all())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| on_write(e, || format!("webhook delivery '{}' already exists", d.id)))?;
        Ok(())
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<WebhookDelivery>> {
        let found = delivery::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(from_db)?;
        Ok(found.map(delivery_from).transpose()?)
    }

    async fn update_delivery(&self, d: &WebhookDelivery, expected_attempts: u32) -> Result<bool> {
        let done = delivery::Entity::update_many()
            .set(delivery_row(d).into_active_model().reset_all())
            .filter(D::Id.eq(&d.id))
            .filter(D::Attempts.eq(i64::from(expected_attempts)))
            .exec(&self.db)
            .await
            .map_err(from_db)?;
        if done.rows_affected > 0 {
            return Ok(true);
        }
        let exists = delivery::Entity::find_by_id(&d.id)
            .select_only()
            .column(D::Id)
            .into_tuple::<String>()
            .one(&self.db)
            .await
            .map_err(from_db)?;
        match exists {
            Some(_) => Ok(false),
            None => Err(Error::not_found("webhook delivery", &d.id)),
        }
    }

    async fn due_deliveries(&self, now: Timestamp, limit: u32) -> Result<Vec<WebhookDelivery>> {
        let found = delivery::Entity::find()
            .filter(D::Status.eq(DeliveryStatus::Pending.as_str()))
            .filter(D::NextAttemptAt.lte(ms(now)))
            .order_by_asc(D::NextAttemptAt)
            .order_by(sort_key(self.backend(), D::Id), Order::Asc)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(from_db)?;
        deliveries(found)
    }

    async fn list_deliveries(
        &self,
        agent_id: &str,
        job_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        let mut select = delivery::Entity::find().filter(D::AgentId.eq(agent_id));
        if let Some(job_id) = job_id {
            select = select.filter(D::JobId.eq(job_id));
        }
        let found = select
            .order_by_desc(D::CreatedAt)
            .order_by(sort_key(self.backend(), D::Id), Order::Desc)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(from_db)?;
        deliveries(found)
    }
}

//! `InstanceStore`, `ProjectStore` and `AgentStore` over D1. Cascades the ports promise (a
//! deleted project's agents lose it, a deleted agent's keys go too) are D1 batches, so they
//! happen entirely or not at all.

use async_trait::async_trait;
use molts_core::domain::{Agent, Instance, Project};
use molts_core::ports::{AgentQuery, AgentStore, InstanceStore, ProjectStore};
use molts_core::{Error, Result};

use crate::D1Store;
use crate::rows::{AgentRow, InstanceRow, ProjectRow, all, cap_column, ms, to_json};
use crate::sql::{Stmt, V, params};

const INSTANCE_COLS: &str = "id, name, registration_mode, registration_token_hash, default_tier, \
                             allowed_models, created_at, updated_at, storage_bytes";

fn instance_params(i: &Instance) -> Result<Vec<V>> {
    Ok(params![
        &i.id,
        &i.name,
        i.settings.registration.as_str(),
        i.settings.registration_token_hash.clone(),
        &i.settings.default_tier,
        i.settings
            .allowed_models
            .as_ref()
            .map(to_json)
            .transpose()?,
        ms(i.created_at),
        ms(i.updated_at),
        cap_column("storage_bytes", i.settings.storage_bytes)?,
    ])
}

#[async_trait]
impl InstanceStore for D1Store {
    async fn insert_instance(&self, i: &Instance) -> Result<()> {
        let sql =
            format!("INSERT INTO instances ({INSTANCE_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)");
        self.db
            .run(&sql, instance_params(i)?, |_| {
                format!("instance '{}' already exists", i.id)
            })
            .await?;
        Ok(())
    }

    async fn get_instance(&self, id: &str) -> Result<Option<Instance>> {
        let sql = format!("SELECT {INSTANCE_COLS} FROM instances WHERE id = ?1");
        let row: Option<InstanceRow> = self.db.row(&sql, params![id]).await?;
        row.map(InstanceRow::into_domain).transpose()
    }

    async fn list_instances(&self) -> Result<Vec<Instance>> {
        let sql = format!("SELECT {INSTANCE_COLS} FROM instances ORDER BY id");
        all(
            self.db.rows(&sql, params![]).await?,
            InstanceRow::into_domain,
        )
    }

    async fn update_instance(&self, i: &Instance) -> Result<()> {
        let sql = "UPDATE instances SET name = ?2, registration_mode = ?3, \
                   registration_token_hash = ?4, default_tier = ?5, allowed_models = ?6, \
                   created_at = ?7, updated_at = ?8, storage_bytes = ?9 WHERE id = ?1";
        let changed = self
            .db
            .run(sql, instance_params(i)?, |_| "instance conflict".to_owned())
            .await?;
        if changed == 0 {
            return Err(Error::not_found("instance", &i.id));
        }
        Ok(())
    }

    async fn delete_instance(&self, id: &str) -> Result<bool> {
        let changed = self
            .db
            .run("DELETE FROM instances WHERE id = ?1", params![id], |_| {
                String::new()
            })
            .await?;
        Ok(changed > 0)
    }
}

const PROJECT_COLS: &str = "id, instance_id, name, description, created_at";

#[async_trait]
impl ProjectStore for D1Store {
    async fn insert_project(&self, p: &Project) -> Result<()> {
        let sql = format!("INSERT INTO projects ({PROJECT_COLS}) VALUES (?1,?2,?3,?4,?5)");
        let values = params![
            &p.id,
            &p.instance_id,
            &p.name,
            p.description.clone(),
            ms(p.created_at)
        ];
        self.db
            .run(&sql, values, |_| {
                format!("project '{}' already exists", p.name)
            })
            .await?;
        Ok(())
    }

    async fn get_project(&self, id: &str) -> Result<Option<Project>> {
        let sql = format!("SELECT {PROJECT_COLS} FROM projects WHERE id = ?1");
        let row: Option<ProjectRow> = self.db.row(&sql, params![id]).await?;
        row.map(ProjectRow::into_domain).transpose()
    }

    async fn list_projects(&self, instance_id: &str) -> Result<Vec<Project>> {
        let sql = format!("SELECT {PROJECT_COLS} FROM projects WHERE instance_id = ?1 ORDER BY id");
        all(
            self.db.rows(&sql, params![instance_id]).await?,
            ProjectRow::into_domain,
        )
    }

    async fn delete_project(&self, id: &str) -> Result<bool> {
        let changed = self
            .db
            .batch(
                vec![
                    Stmt {
                        sql: "UPDATE agents SET project_id = NULL WHERE project_id = ?1".to_owned(),
                        params: params![id],
                    },
                    Stmt {
                        sql: "DELETE FROM projects WHERE id = ?1".to_owned(),
                        params: params![id],
                    },
                ],
                |_| String::new(),
            )
            .await?;
        Ok(changed.get(1).copied().unwrap_or(0) > 0)
    }
}

const AGENT_COLS: &str = "id, instance_id, project_id, name, email, soul_md, voice_sample_ref, \
                          tier_id, status, created_at, updated_at";
const EMAIL_TAKEN: &str = "an agent with this id or email already exists";

fn agent_params(a: &Agent) -> Vec<V> {
    params![
        &a.id,
        &a.instance_id,
        a.project_id.clone(),
        &a.name,
        a.email.clone(),
        &a.soul_md,
        a.voice_sample_ref.clone(),
        &a.tier_id,
        a.status.as_str(),
        ms(a.created_at),
        ms(a.updated_at),
    ]
}

#[async_trait]
impl AgentStore for D1Store {
    async fn insert_agent(&self, a: &Agent) -> Result<()> {
        let sql = format!(
            "INSERT INTO agents ({AGENT_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"
        );
        self.db
            .run(&sql, agent_params(a), |_| EMAIL_TAKEN.to_owned())
            .await?;
        Ok(())
    }

    async fn get_agent(&self, id: &str) -> Result<Option<Agent>> {
        let sql = format!("SELECT {AGENT_COLS} FROM agents WHERE id = ?1");
        let row: Option<AgentRow> = self.db.row(&sql, params![id]).await?;
        row.map(AgentRow::into_domain).transpose()
    }

    async fn list_agents(&self, q: &AgentQuery) -> Result<Vec<Agent>> {
        // Each filter is `?N IS NULL OR column = ?N`, so one statement serves every query.
        let sql = format!(
            "SELECT {AGENT_COLS} FROM agents \
             WHERE (?1 IS NULL OR instance_id = ?1) AND (?2 IS NULL OR project_id = ?2) \
             AND (?3 IS NULL OR tier_id = ?3) AND (?4 IS NULL OR status = ?4) \
             AND (?5 IS NULL OR id > ?5) ORDER BY id LIMIT ?6"
        );
        let values = params![
            q.instance_id.clone(),
            q.project_id.clone(),
            q.tier_id.clone(),
            q.status.map(|s| s.as_str()),
            q.after.clone(),
            i64::from(q.limit),
        ];
        all(self.db.rows(&sql, values).await?, AgentRow::into_domain)
    }

    async fn update_agent(&self, a: &Agent) -> Result<()> {
        let sql = "UPDATE agents SET instance_id = ?2, project_id = ?3, name = ?4, email = ?5, \
                   soul_md = ?6, voice_sample_ref = ?7, tier_id = ?8, status = ?9, \
                   created_at = ?10, updated_at = ?11 WHERE id = ?1";
        let changed = self
            .db
            .run(sql, agent_params(a), |_| EMAIL_TAKEN.to_owned())
            .await?;
        if changed == 0 {
            return Err(Error::not_found("agent", &a.id));
        }
        Ok(())
    }

    async fn delete_agent(&self, id: &str) -> Result<bool> {
        // Keys go with their agent, in one batch: a key must never outlive the agent it names.
        let changed = self
            .db
            .batch(
                vec![
                    Stmt {
                        sql: "DELETE FROM api_keys WHERE agent_id = ?1".to_owned(),
                        params: params![id],
                    },
                    Stmt {
                        sql: "DELETE FROM agents WHERE id = ?1".to_owned(),
                        params: params![id],
                    },
                ],
                |_| String::new(),
            )
            .await?;
        Ok(changed.get(1).copied().unwrap_or(0) > 0)
    }
}

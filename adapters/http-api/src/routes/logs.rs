//! The request log's list routes: `GET /v1/admin/logs` (an admin's instance, or any for the
//! operator) and `GET /v1/logs` (the calling agent's own requests). Every filter is checked
//! here and a bad one is a 400 naming it; the scope is enforced in core.

use axum::Json;
use axum::extract::{Extension, State};
use molts_core::domain::{Provider, RequestQuery, RequestRecord, StatusFilter};
use molts_core::gateway::AgentPrincipal;
use molts_core::{Error, ErrorCode, Timestamp};
use serde::Deserialize;

use crate::ApiState;
use crate::error::ApiResult;
use crate::extract::{Admin, ApiQuery};
use crate::views::List;

/// The filters, as text: each is parsed and checked on its own so a bad one is named.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct LogQuery {
    from: Option<String>,
    to: Option<String>,
    instance: Option<String>,
    agent: Option<String>,
    key: Option<String>,
    model: Option<String>,
    provider: Option<String>,
    status: Option<String>,
    error: Option<String>,
    job: Option<String>,
    before: Option<String>,
    limit: Option<u32>,
}

fn time(param: &'static str, text: Option<&str>) -> Result<Option<Timestamp>, Error> {
    text.map(|t| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| {
                Error::invalid(
                    param,
                    format!("{param} must be an RFC 3339 time (2026-12-08T10:00:00Z), not '{t}'"),
                )
            })
    })
    .transpose()
}

fn status(text: &str) -> Result<StatusFilter, Error> {
    let bad = || {
        Error::invalid(
            "status",
            format!("status is a class (2xx, 4xx, 5xx) or a status (404), not '{text}'"),
        )
    };
    match text.as_bytes() {
        [c @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => Ok(StatusFilter::Class(u16::from(c - b'0'))),
        _ => match text.parse::<u16>() {
            Ok(s) if (100..600).contains(&s) => Ok(StatusFilter::Exact(s)),
            _ => Err(bad()),
        },
    }
}

impl LogQuery {
    /// The store query, every filter checked.
    fn parse(self) -> Result<RequestQuery, Error> {
        let provider = self
            .provider
            .map(|p| {
                Provider::parse(&p).ok_or_else(|| {
                    Error::invalid("provider", format!("no provider is called '{p}'"))
                })
            })
            .transpose()?;
        let error_code = self
            .error
            .map(|c| {
                ErrorCode::parse(&c)
                    .ok_or_else(|| Error::invalid("error", format!("no error code is '{c}'")))
            })
            .transpose()?;
        if let Some(before) = &self.before
            && !before.starts_with("req_")
        {
            return Err(Error::invalid(
                "before",
                "before is a record's id (req_…), from the last page",
            ));
        }
        Ok(RequestQuery {
            from: time("from", self.from.as_deref())?,
            to: time("to", self.to.as_deref())?,
            instance_id: self.instance,
            agent_id: self.agent,
            key_id: self.key,
            model: self.model,
            provider,
            status: self.status.as_deref().map(status).transpose()?,
            error_code,
            job_id: self.job,
            before: self.before,
            limit: self.limit.unwrap_or(0),
        })
    }
}

/// `GET /v1/admin/logs`.
pub(super) async fn admin_logs(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> ApiResult<Json<List<RequestRecord>>> {
    let page = state.gateway.admin_logs(&admin, q.parse()?).await?;
    Ok(Json(List::page(page.data, page.has_more)))
}

/// `GET /v1/logs`: the agent's own requests; `instance` and `agent` are not its to choose.
pub(super) async fn agent_logs(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> ApiResult<Json<List<RequestRecord>>> {
    for (param, given) in [("instance", &q.instance), ("agent", &q.agent)] {
        if given.is_some() {
            return Err(
                Error::invalid(param, format!("{param} is always the caller's own here")).into(),
            );
        }
    }
    let page = state.gateway.agent_logs(&principal, q.parse()?).await?;
    Ok(Json(List::page(page.data, page.has_more)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classes_or_codes() {
        assert_eq!(status("2xx").ok(), Some(StatusFilter::Class(2)));
        assert_eq!(status("5XX").ok(), Some(StatusFilter::Class(5)));
        assert_eq!(status("429").ok(), Some(StatusFilter::Exact(429)));
        for bad in ["6xx", "2x", "ok", "99", "600", ""] {
            let e = status(bad).err();
            assert_eq!(e.as_ref().and_then(Error::param), Some("status"), "{bad}");
        }
    }

    #[test]
    fn each_bad_filter_is_named() {
        let cases = [
            (
                LogQuery {
                    from: Some("yesterday".into()),
                    ..LogQuery::default()
                },
                "from",
            ),
            (
                LogQuery {
                    to: Some("2026-13-01T00:00:00Z".into()),
                    ..LogQuery::default()
                },
                "to",
            ),
            (
                LogQuery {
                    provider: Some("skynet".into()),
                    ..LogQuery::default()
                },
                "provider",
            ),
            (
                LogQuery {
                    error: Some("oops".into()),
                    ..LogQuery::default()
                },
                "error",
            ),
            (
                LogQuery {
                    before: Some("job_1".into()),
                    ..LogQuery::default()
                },
                "before",
            ),
        ];
        for (query, param) in cases {
            let e = query.parse().err();
            assert_eq!(e.as_ref().and_then(Error::param), Some(param));
        }
        let ok = LogQuery {
            from: Some("2026-12-01T00:00:00Z".into()),
            status: Some("4xx".into()),
            provider: Some("openai".into()),
            error: Some("quota_exceeded".into()),
            ..LogQuery::default()
        }
        .parse();
        assert!(ok.is_ok(), "{ok:?}");
    }
}

//! Contract checks for the request log: a batch is stored whole or not at all, every field
//! round-trips, each filter answers what [`RequestQuery::accepts`] says (newest first, paged by
//! `before`), and forgetting takes the oldest records before a cutoff, a bounded batch at a time.

use crate::ErrorCode;
use crate::clock::Timestamp;
use crate::domain::{
    Caller, Provider, ProviderAttempt, RequestQuery, RequestRecord, StatusFilter, Unit,
};
use crate::error::{ErrorKind, Result};
use crate::ids::id_floor;
use crate::ports::Stores;

use super::{kind, unique};

/// A time in 2002 (which no other check uses), `minutes` after a start unique to this run.
fn at(base: i64, minutes: i64) -> Timestamp {
    Timestamp::from_timestamp_millis(1_009_843_200_000 + base + minutes * 60_000)
        .unwrap_or_default()
}

/// An id made "at" `t`, as `SystemIds` would: the time's first id with a unique tail.
fn id_at(t: Timestamp) -> String {
    let first = id_floor("req", t);
    let tail = unique("x");
    let tail = &tail[tail.len() - 12..];
    format!("{}{tail}", &first[..first.len() - 12])
}

fn record(instance: &str, agent: Option<&str>, t: Timestamp) -> RequestRecord {
    RequestRecord {
        id: id_at(t),
        request_id: unique("rid"),
        at: t,
        instance_id: Some(instance.to_owned()),
        caller: if agent.is_some() {
            Caller::Agent
        } else {
            Caller::Admin
        },
        agent_id: agent.map(str::to_owned),
        key_id: Some(unique("key")),
        key_prefix: Some("ml_0123456789ab".to_owned()),
        method: "POST".to_owned(),
        route: "/v1/chat/completions".to_owned(),
        model: Some("demo-text".to_owned()),
        provider: Some(Provider::Demo),
        attempts: vec![ProviderAttempt {
            provider: Provider::Demo,
            model: "demo-text".to_owned(),
            error: None,
            latency_ms: 4,
        }],
        status: 200,
        error_code: None,
        latency_ms: 12,
        unit: Some(Unit::TextToken),
        units_held: 4200,
        units_charged: 57,
        streamed: false,
        bytes_in: 120,
        bytes_out: 900,
        job_id: None,
        prompt: None,
    }
}

/// Storing, every filter, paging and forgetting.
pub async fn request_log(stores: &Stores) -> Result<()> {
    let s = &stores.requests;
    // A start within 2002 unique enough to this run; what an earlier run left is cleared first.
    let base = i64::from(unique("b").as_bytes()[20]) * 3_600_000;
    while s
        .forget_requests_before(at(0, 60 * 24 * 300), 1_000)
        .await?
        > 0
    {}

    let instance = unique("inst");
    let (a, b) = (unique("agt"), unique("agt"));
    let r1 = record(&instance, Some(&a), at(base, 1));
    let r2 = RequestRecord {
        model: Some("gpt-4o".to_owned()),
        provider: Some(Provider::Openai),
        attempts: vec![
            ProviderAttempt {
                provider: Provider::Openai,
                model: "gpt-4o".to_owned(),
                error: Some(ErrorCode::ProviderUnavailable),
                latency_ms: 1500,
            },
            ProviderAttempt {
                provider: Provider::Openai,
                model: "gpt-4o".to_owned(),
                error: Some(ErrorCode::UpstreamTimeout),
                latency_ms: 30_000,
            },
        ],
        status: 503,
        error_code: Some(ErrorCode::ProviderUnavailable),
        units_charged: 0,
        ..record(&instance, Some(&a), at(base, 2))
    };
    let r3 = RequestRecord {
        route: "/v1/videos/generate".to_owned(),
        status: 202,
        unit: Some(Unit::Video),
        units_held: 1,
        units_charged: 0,
        job_id: Some(unique("job")),
        streamed: false,
        prompt: Some("a short film ✨".to_owned()),
        ..record(&instance, Some(&b), at(base, 3))
    };
    let r4 = RequestRecord {
        method: "GET".to_owned(),
        route: "/v1/admin/agents".to_owned(),
        model: None,
        provider: None,
        attempts: Vec::new(),
        status: 429,
        error_code: Some(ErrorCode::QuotaExceeded),
        unit: None,
        units_held: 0,
        units_charged: 0,
        streamed: true,
        ..record(&instance, None, at(base, 4))
    };
    let mine = [r1.clone(), r2.clone(), r3.clone(), r4.clone()];
    s.append_requests(&mine).await?;

    // All or nothing: a batch with a taken id stores none of its records.
    let fresh = record(&instance, Some(&a), at(base, 5));
    assert_eq!(
        kind(s.append_requests(&[fresh.clone(), r1.clone()]).await),
        Some(ErrorKind::Conflict)
    );

    let scoped = |q: RequestQuery| RequestQuery {
        instance_id: Some(instance.clone()),
        limit: 100,
        ..q
    };
    let expect = |q: &RequestQuery| {
        let mut want: Vec<RequestRecord> = mine.iter().filter(|r| q.accepts(r)).cloned().collect();
        want.reverse();
        want
    };
    let queries = [
        scoped(RequestQuery::default()),
        scoped(RequestQuery {
            agent_id: Some(a.clone()),
            ..RequestQuery::default()
        }),
        scoped(RequestQuery {
            key_id: r3.key_id.clone(),
            ..RequestQuery::default()
        }),
        scoped(RequestQuery {
            model: Some("gpt-4o".to_owned()),
            ..RequestQuery::default()
        }),
        scoped(RequestQuery {
            provider: Some(Provider::Demo),
            ..RequestQuery::default()
        }),
        scoped(RequestQuery {
            status: Some(StatusFilter::Class(2)),
            ..RequestQuery::default()
        }),
        scoped(RequestQuery {
            status: Some(StatusFilter::Exact(429)),
            ..RequestQuery::default()
        }),
        scoped(RequestQuery {
            error_code: Some(ErrorCode::ProviderUnavailable),
            ..RequestQuery::default()
        }),
        scoped(RequestQuery {
            job_id: r3.job_id.clone(),
            ..RequestQuery::default()
        }),
        scoped(RequestQuery {
            from: Some(at(base, 2)),
            to: Some(at(base, 4)),
            ..RequestQuery::default()
        }),
        scoped(RequestQuery {
            before: Some(r3.id.clone()),
            ..RequestQuery::default()
        }),
        scoped(RequestQuery {
            limit: 2,
            ..RequestQuery::default()
        }),
    ];
    for q in &queries {
        let mut want = expect(q);
        want.truncate(q.limit as usize);
        assert_eq!(s.list_requests(q).await?, want, "{q:?}");
    }
    let all = s.list_requests(&queries[0]).await?;
    assert_eq!(all, [r4.clone(), r3.clone(), r2.clone(), r1.clone()]);
    assert!(
        s.list_requests(&RequestQuery {
            instance_id: Some(unique("inst")),
            limit: 10,
            ..RequestQuery::default()
        })
        .await?
        .is_empty()
    );

    // Forgetting: the oldest first, at most `limit`, never one at or after the cutoff.
    assert_eq!(s.forget_requests_before(at(base, 3), 1).await?, 1);
    assert_eq!(
        s.list_requests(&queries[0]).await?,
        [r4.clone(), r3.clone(), r2.clone()]
    );
    assert_eq!(s.forget_requests_before(at(base, 3), 100).await?, 1);
    assert_eq!(
        s.list_requests(&queries[0]).await?,
        [r4.clone(), r3.clone()]
    );
    assert_eq!(s.forget_requests_before(at(base, 3), 100).await?, 0);
    while s.forget_requests_before(at(base, 10), 100).await? > 0 {}
    assert!(s.list_requests(&queries[0]).await?.is_empty());
    Ok(())
}

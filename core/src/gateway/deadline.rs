//! Overall deadlines for work that waits on someone else: a webhook attempt, a status check, the
//! copy of a job's output, one item of the scheduled work. The HTTP clients' own timeouts only
//! bound each wait (the response head, the next piece of the body), so a peer answering one
//! byte every few seconds is never idle long enough to be cut by them; these deadlines bound
//! the whole.
//!
//! Core has no timer: the deadline races the work against the runtime's [`Sleeper`] (the one
//! lent for retry backoff; every runtime lends one) and drops the work when the sleep ends
//! first, which closes its connections. Work that is dropped must be safe to drop at any await:
//! everything the scheduled work does is (claims expire, stores are keyed so a repeat finds the
//! same object). Without a sleeper, the work runs unbounded.
//!
//! [`Sleeper`]: crate::providers::Sleeper

use crate::ErrorCode;
use std::future::Future;
use std::time::Duration;

use futures::future::{Either, select};

use crate::error::{Error, Result};

use super::Gateway;

impl Gateway {
    /// Runs `work`, or gives up on it with `Unavailable` (`upstream_timeout`, so it is retried
    /// like any timeout) once `limit` has passed; `what` names the work in the message.
    pub(super) async fn within<T>(
        &self,
        limit: Duration,
        what: &str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(sleeper) = self.inner.providers.sleeper() else {
            return work.await;
        };
        let work = std::pin::pin!(work);
        match select(work, sleeper.sleep(limit)).await {
            Either::Left((done, _)) => done,
            Either::Right(_) => Err(Error::unavailable(format!(
                "{what} did not finish within {} ms",
                limit.as_millis()
            ))
            .with_code(ErrorCode::UpstreamTimeout)),
        }
    }
}

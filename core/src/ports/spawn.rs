//! Work that outlives a request: the runtime lends its executor.

use futures::future::BoxFuture;

/// Runs futures in the background. Natively a tokio task that a graceful shutdown waits for;
/// a runtime that may freeze or stop once the response is sent (Lambda) lends none, and the
/// gateway then does the work before answering.
///
/// # Contract
/// `spawn` returns at once; the work runs to completion unless the process dies, and a
/// graceful shutdown waits for it.
pub trait Spawner: Send + Sync {
    /// Starts `work`.
    fn spawn(&self, work: BoxFuture<'static, ()>);
}

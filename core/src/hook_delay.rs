//! The runner hooks' delay rule: the delay before a retry, for a caller that runs its own loop.

use std::time::Duration;

use crate::failure::Failure;
use crate::policy::Policy;

impl Policy {
    /// The delay before the retry after attempt `attempt` (0-based, as the runner hooks count):
    /// `max(capped hint, backoff for retry attempt+1)`. Draws from the policy's RNG.
    pub fn retry_delay(&self, failure: &Failure, attempt: u32) -> Duration {
        let backoff = self
            .backoff()
            .delay(attempt.saturating_add(1), None, self.rng());
        let seconds = backoff.max(self.server_hint(failure).unwrap_or(0.0));
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
    }
}

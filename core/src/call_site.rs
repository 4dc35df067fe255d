//! What every call of one function, verb and recovery under one policy shares, looked up once:
//! a binding that begins many calls of the same function (Node's call sites) starts each without
//! finding the function's counters by name again.

use std::sync::{Arc, OnceLock};

use crate::call::Call;
use crate::decision::Recovery;
use crate::failure::Verb;
use crate::metrics::{self, FunctionMetrics};
use crate::policy::Policy;

/// Begins calls of one function with one verb and recovery under one policy.
#[derive(Clone)]
pub struct CallSite {
    policy: Policy,
    function: Box<str>,
    /// Looked up on the first call that is not nested: a site whose calls are all nested takes
    /// no place in the registry (docs/design.md "Nesting").
    metrics: OnceLock<Arc<FunctionMetrics>>,
    verb: Verb,
    recovery: Recovery,
}

impl CallSite {
    /// The site of `function`; its counters are looked up (or created) once, by its first call.
    pub fn new(policy: &Policy, function: &str, verb: Verb, recovery: Recovery) -> CallSite {
        CallSite {
            policy: policy.clone(),
            function: function.into(),
            metrics: OnceLock::new(),
            verb,
            recovery,
        }
    }

    /// The same call as `Call::start(policy, function, nested)` with this site's verb and
    /// recovery.
    pub fn start(&self, nested: bool) -> Call {
        let call = if nested {
            Call::new_nested(&self.policy, &self.function)
        } else {
            let metrics = self
                .metrics
                .get_or_init(|| metrics::function(&self.function));
            Call::with_metrics(&self.policy, Arc::clone(metrics))
        };
        call.with_verb(self.verb).with_recovery(self.recovery)
    }

    /// The function's name.
    pub fn function(&self) -> &str {
        &self.function
    }
}

impl std::fmt::Debug for CallSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallSite")
            .field("function", &self.function())
            .field("verb", &self.verb)
            .field("recovery", &self.recovery)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decision, Failure, GiveUpReason, metrics};

    #[test]
    fn a_site_begins_the_call_start_would() {
        let policy = Policy::default();
        let timeout = Failure::new().with_timeout(true);
        for verb in [Verb::Get, Verb::Post] {
            let site = CallSite::new(&policy, "call_site_test", verb, Recovery::None);
            let mut call = site.start(false);
            let mut plain = Call::start(&policy, "call_site_test", false).with_verb(verb);
            let decision = call.try_on_failure(&timeout);
            assert_eq!(
                std::mem::discriminant(&decision),
                std::mem::discriminant(&plain.try_on_failure(&timeout))
            );
            assert_eq!(
                decision.is_ok_and(|d| d == Decision::GiveUp(GiveUpReason::NotIdempotent)),
                verb == Verb::Post
            );
            call.on_success();
        }
        assert!(metrics::registered("call_site_test"));
    }

    #[test]
    fn a_site_whose_calls_are_nested_takes_no_place_in_the_registry() {
        let site = CallSite::new(
            &Policy::default(),
            "call_site_nested",
            Verb::Get,
            Recovery::None,
        );
        let mut nested = site.start(true);
        assert!(nested.is_nested());
        let failure = Failure::new().with_status(503);
        assert_eq!(
            nested.try_on_failure(&failure),
            Ok(Decision::GiveUp(GiveUpReason::Nested))
        );
        assert!(!metrics::registered("call_site_nested"));
        site.start(false).on_success();
        assert!(metrics::registered("call_site_nested"));
    }
}

//! Policy JSON (`Policy::from_json`, DESIGN §6): any bytes, read lossily. Checks: no panic;
//! text that is not a JSON object, or has a key outside the documented set, is refused; every
//! accepted policy is within the documented ranges; its backoff is never NaN, negative or above
//! max_delay; `retry_delay` never exceeds max(max_delay, retry_after_cap); a call under it
//! (resumed after every `Wait`) never waits longer than max(max_delay, retry_after_cap * (1 +
//! retry_after_spread)), never before an honoured hint, gives up on a hint above the cap, never
//! makes more than max_retries + 1 attempts, and a POST without a recovery is never resent after
//! a reset.
#![no_main]

use std::sync::Arc;
use std::time::Duration;

use k8sretry::{
    Call, Decision, Failure, Jitter, ManualClock, Policy, PolicyBuilder, Verb, outside_text,
};
use k8sretry_fuzz::within;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The keys a policy may have; any other is refused.
const KEYS: [&str; 17] = [
    "preset",
    "max_retries",
    "initial_delay",
    "max_delay",
    "exponential_base",
    "jitter",
    "retry_after_cap",
    "retry_after_spread",
    "retry_after_statuses",
    "retry_statuses",
    "not_sent_codes",
    "ambiguous_codes",
    "retry_timeouts",
    "deadline",
    "budget",
    "breaker",
    "seed",
];

const MAX_SECONDS: Duration = Duration::from_secs(86_400 * 365);

fn check_ranges(policy: &Policy, text: &str) {
    let b = policy.backoff();
    assert!(policy.max_retries() <= 10_000, "{text}");
    assert!(
        b.initial_delay <= MAX_SECONDS && b.max_delay <= MAX_SECONDS,
        "{text}"
    );
    assert!(policy.retry_after_cap() <= MAX_SECONDS, "{text}");
    assert!((0.0..=1.0).contains(&policy.retry_after_spread()), "{text}");
    assert!((1.0..=1000.0).contains(&b.exponential_base), "{text}");
    if let Jitter::Proportional(s) = b.jitter {
        assert!((0.0..=1.0).contains(&s), "{text}");
    }
    if let Some(deadline) = policy.deadline() {
        assert!(
            deadline >= Duration::from_millis(1) && deadline <= MAX_SECONDS,
            "{text}"
        );
    }
    let c = policy.classifier();
    assert!(
        c.retry_statuses.iter().all(|s| (100..=599).contains(s)),
        "{text}"
    );
    assert!(
        !c.not_sent_codes
            .iter()
            .any(|code| c.ambiguous_codes.contains(code)),
        "a code both not sent and ambiguous: {text}"
    );
}

fn check_backoff(policy: &Policy, text: &str) {
    let b = policy.backoff();
    let max = b.max_delay.as_secs_f64();
    for retry in [
        1,
        2,
        3,
        10,
        policy.max_retries(),
        policy.max_retries().saturating_add(1),
        u32::MAX,
    ] {
        let base = b.base_delay(retry);
        assert!(
            !base.is_nan() && (0.0..=max).contains(&base),
            "{text}: base {retry} -> {base}"
        );
    }
    let hinted = Failure::new()
        .with_status(429)
        .with_retry_after("999999999");
    for attempt in [0, 1, 5, u32::MAX] {
        let d = policy.retry_delay(&hinted, attempt);
        let cap = b.max_delay.max(policy.retry_after_cap());
        assert!(within(d, cap), "{text}: retry_delay {d:?} above {cap:?}");
    }
}

/// A call failing with 503 + `Retry-After: 120` until it ends (bounded; a `Wait` is resumed):
/// delays within max(max_delay, retry_after_cap * (1 + retry_after_spread)) and, when the policy
/// honours the hint, never before it; a hint above the cap is a give-up, never a shorter wait;
/// attempts within max_retries + 1.
fn check_call(policy: &Policy, text: &str) {
    let hinted = policy
        .retry_after_cap()
        .mul_f64(1.0 + policy.retry_after_spread());
    let cap = policy.backoff().max_delay.max(hinted);
    let failure = Failure::new().with_status(503).with_retry_after("120");
    let hint = policy.server_hint(&failure);
    let too_long = hint.is_some() && policy.retry_after_cap() < Duration::from_secs(120);
    let mut call = Call::new(policy, "fuzz_policy_json").with_verb(Verb::Get);
    let mut decision = call.on_failure(&failure);
    for _ in 0..64 {
        match decision {
            Decision::Retry { delay } | Decision::Wait { delay } if delay > Duration::ZERO => {
                assert!(!too_long, "{text}: a hint past the cap got {decision:?}");
                assert!(within(delay, cap), "{text}: {delay:?} above {cap:?}");
                if hint.is_some() && matches!(decision, Decision::Retry { .. }) {
                    assert!(
                        delay >= Duration::from_secs(120),
                        "{text}: {delay:?} before the server's 120 s"
                    );
                }
            }
            Decision::Retry { .. } | Decision::Wait { .. } => {}
            Decision::GiveUp(_) => break,
            other => panic!("{text}: a GET without a recovery got {other:?}"),
        }
        assert!(
            call.attempts() <= policy.max_retries().saturating_add(1),
            "{text}"
        );
        decision = match decision {
            Decision::Wait { .. } => call.resume().expect("a Wait is resumed"),
            _ => call.on_failure(&failure),
        };
    }
    // A POST without a recovery is never resent after a reset (whatever the code sets say,
    // ECONNRESET is either ambiguous, or not retried at all).
    let reset = Failure::new().with_code("ECONNRESET");
    let mut post = Call::new(policy, "fuzz_policy_json").with_verb(Verb::Post);
    let decision = post.on_failure(&reset);
    if policy.classify(&reset).may_have_applied() {
        assert!(
            matches!(decision, Decision::GiveUp(_)),
            "{text}: {decision:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let text = outside_text(data);
    let parsed = Policy::from_json(&text);
    let json = serde_json::from_str::<Value>(&text);
    match &parsed {
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(_) => {
            let Ok(Value::Object(map)) = &json else {
                panic!("accepted a policy that is not a JSON object: {text:?}");
            };
            for key in map.keys() {
                assert!(
                    KEYS.contains(&key.as_str()),
                    "accepted unknown key {key:?}: {text:?}"
                );
            }
        }
    }
    let Ok(policy) = parsed else {
        return;
    };
    check_ranges(&policy, &text);
    check_backoff(&policy, &text);
    // Again on a manual clock (deadlines and breakers then see no time pass), through the builder.
    let clock = Arc::new(ManualClock::new(1_700_000_000.0));
    let policy = PolicyBuilder::from_json(&text)
        .and_then(|b| b.clock(clock).build())
        .expect("the same text builds again");
    check_call(&policy, &text);
});

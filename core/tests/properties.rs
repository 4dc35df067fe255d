//! Property tests: delay invariants and parsers that never panic.

use std::sync::Arc;

use k8sretry::{
    Backoff, Call, Decision, Failure, Jitter, JitterRng, ManualClock, Policy, PolicyBuilder, Verb,
};
use k8sretry::{parse_http_date, parse_retry_after};
use proptest::prelude::*;
use std::time::Duration;

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
        (0.0f64..=1.0).prop_map(Jitter::Proportional),
    ]
}

proptest! {
    #[test]
    fn backoff_is_never_nan_negative_or_above_max(
        initial in 0.0f64..1e6,
        max in 0.0f64..1e6,
        base in 1.0f64..1000.0,
        jitter in jitter(),
        retry in 0u32..=u32::MAX,
        previous in proptest::option::of(0.0f64..1e9),
        seed in any::<u64>(),
    ) {
        let b = Backoff {
            initial_delay: Duration::from_secs_f64(initial),
            max_delay: Duration::from_secs_f64(max),
            exponential_base: base,
            jitter,
        };
        let d = b.delay(retry, previous, &JitterRng::seeded(seed));
        prop_assert!(!d.is_nan());
        prop_assert!(d >= 0.0);
        prop_assert!(d <= b.max_delay.as_secs_f64());
    }

    #[test]
    fn decided_delay_is_at_most_max_or_the_spread_cap_and_never_before_the_hint(
        max in 0.0f64..100.0,
        cap in 0.0f64..100.0,
        retry_after in "[ 0-9]{0,6}",
        seconds in proptest::option::of(-10i64..1000),
        status in prop_oneof![Just(429u16), Just(503u16), Just(500u16)],
        failures in 1usize..8,
        jitter in jitter(),
    ) {
        let policy = PolicyBuilder::preset("default").unwrap()
            .max_delay(max).retry_after_cap(cap).jitter(jitter).max_retries(20)
            .budget(k8sretry::BudgetChoice::Disabled).seed(Some(1))
            .clock(Arc::new(ManualClock::new(1.7e9))).build().unwrap();
        let mut failure = Failure::new().with_status(status).with_retry_after(retry_after);
        failure.retry_after_seconds = seconds;
        let mut call = Call::new(&policy, "prop").with_verb(Verb::Get);
        for _ in 0..failures {
            match call.on_failure(&failure) {
                Decision::Retry { delay } => {
                    // A hint decides at most cap * (1 + spread); never sooner than the hint.
                    let d = delay.as_secs_f64();
                    let bound = max.max(cap * (1.0 + policy.retry_after_spread()));
                    prop_assert!(d <= bound + 1e-9, "{} > max {} / cap {}", d, max, cap);
                    if let Some(hint) = policy.server_hint(&failure) {
                        prop_assert!(d + 1e-9 >= hint, "{} sooner than the hint {}", d, hint);
                    }
                }
                // A hint above the cap gives up rather than retry sooner than asked.
                Decision::GiveUp(k8sretry::GiveUpReason::RetryAfterTooLong) => break,
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }

    #[test]
    fn retry_after_never_panics_and_is_positive(value in any::<String>(), now in any::<f64>()) {
        if let Some(s) = parse_retry_after(&value, now) {
            prop_assert!(s > 0.0 && !s.is_nan());
        }
    }

    #[test]
    fn date_like_strings_never_panic(
        value in "[A-Za-z]{0,9},? ?[0-9]{0,3}[- ][A-Za-z]{0,9}[- ][0-9]{0,5} [0-9:.]{0,9} ?[A-Z+-]{0,1}[0-9A-Z]{0,5}",
    ) {
        let _ = parse_http_date(&value);
    }

    #[test]
    fn status_bodies_never_panic(body in any::<String>(), status in any::<u16>()) {
        let f = Failure::new().with_status(status).with_status_body(&body);
        let _ = Policy::default().classify(&f);
    }

    #[test]
    fn status_shaped_json_never_panics(
        reason in any::<String>(), code in any::<i64>(), after in any::<i64>(),
    ) {
        let body = serde_json::json!({"kind": "Status", "reason": reason, "code": code,
                                      "details": {"retryAfterSeconds": after}}).to_string();
        let f = Failure::new().with_status_body(&body);
        let _ = Policy::default().classify(&f);
    }

    #[test]
    fn policy_json_never_panics(text in any::<String>()) {
        let _ = Policy::from_json(&text);
    }

    #[test]
    fn policy_json_with_wild_numbers_never_panics(
        key in prop_oneof![Just("max_retries"), Just("initial_delay"), Just("max_delay"),
                           Just("exponential_base"), Just("jitter"), Just("retry_after_cap"),
                           Just("deadline"), Just("seed")],
        value in prop_oneof![any::<f64>().prop_map(|v| v.to_string()), any::<i64>().prop_map(|v| v.to_string()),
                             Just("1e400".to_string()), Just("-0".to_string()), Just("null".to_string())],
    ) {
        let _ = Policy::from_json(&format!("{{\"{key}\": {value}}}"));
    }
}

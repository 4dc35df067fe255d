//! `Retry-After` values (DESIGN §3): any bytes, read as a binding reads a header (invalid UTF-8
//! lossily), parsed at several `now`s. Checks: no panic; a hint is positive and never NaN; a
//! date's hint is exactly the date minus now; delta-seconds follow `^\s*[0-9]+\s*$`; the parse
//! ignores ASCII case and the amount of white space between tokens; a date that parses reads
//! back the same from the IMF-fixdate the fuzz crate writes for it.
#![no_main]

use k8sretry::{outside_text, parse_http_date, parse_retry_after};
use k8sretry_fuzz::http_date;
use libfuzzer_sys::fuzz_target;

/// The vectors' now, the epoch, before the epoch, far ahead, and values that are no time at all.
const NOWS: [f64; 7] = [
    1_700_000_000.0,
    0.0,
    -86_400.0 * 365.0,
    253_402_300_799.0,
    1e300,
    f64::NAN,
    f64::NEG_INFINITY,
];

/// The delta-seconds rule, written independently of the engine.
fn delta(value: &str) -> Option<f64> {
    let digits = value.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds = digits.parse::<u64>().map_or(u64::MAX as f64, |s| s as f64);
    Some(seconds)
}

fn same(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let value = outside_text(data);
    let date = parse_http_date(&value);
    if let Some(at) = date {
        assert!(at.is_finite() && at.fract() == 0.0, "{value:?} -> {at}");
    }
    let by_delta = delta(&value);
    for now in NOWS {
        let hint = parse_retry_after(&value, now);
        if let Some(seconds) = hint {
            assert!(
                seconds > 0.0 && !seconds.is_nan(),
                "{value:?} at {now} -> {seconds}"
            );
        }
        match by_delta {
            Some(seconds) => assert!(
                same(hint, (seconds > 0.0).then_some(seconds)),
                "delta {value:?} at {now} -> {hint:?}"
            ),
            None => {
                let expected = date
                    .map(|at| at - now)
                    .filter(|w| *w > 0.0 && w.is_finite());
                assert!(
                    same(hint, expected),
                    "date {value:?} at {now} -> {hint:?}, {date:?}"
                );
            }
        }
    }
    // Case and spacing carry nothing.
    for variant in [
        value.to_ascii_uppercase(),
        value.to_ascii_lowercase(),
        value.replace(' ', "  \t"),
    ] {
        assert!(
            same(parse_http_date(&variant), date),
            "{value:?} -> {date:?} but {variant:?} -> {:?}",
            parse_http_date(&variant)
        );
        assert!(same(
            parse_retry_after(&variant, NOWS[0]),
            parse_retry_after(&value, NOWS[0])
        ));
    }
    // A parsed date written again as an IMF-fixdate or asctime (years 100..=9999: a year below
    // 100 is read as 19xx/20xx, as Python's parsedate_tz does) or as an RFC 850 date (two-digit
    // years: 1969..=2068) reads back the same instant.
    if let Some(at) = date {
        let at = at as i64;
        if (-59_011_459_200..=253_402_300_799).contains(&at) {
            for form in [0, 2] {
                let text = http_date(at, form);
                assert_eq!(
                    parse_http_date(&text),
                    Some(at as f64),
                    "{value:?} as {text:?}"
                );
            }
        }
        if (-31_536_000..3_124_224_000).contains(&at) {
            let text = http_date(at, 1);
            assert_eq!(
                parse_http_date(&text),
                Some(at as f64),
                "{value:?} as {text:?}"
            );
        }
    }
});

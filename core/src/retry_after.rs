//! `Retry-After` parsing (DESIGN §3): delta-seconds or an HTTP-date, always in UTC.
//!
//! The date reader is as lenient as Python's `email.utils.parsedate_tz`, which the deployed
//! implementation used: IMF-fixdate, RFC 850 (`06-Nov-94`), asctime (`Nov  6 08:49:37 1994`),
//! one-digit days, `GMT`/`UTC`/`Z`/`+0000` and the US zone names. Strict crates such as
//! `httpdate` reject several of these, which real proxies send.

/// Seconds to wait that a `Retry-After` value asks for, measured from `now_unix` (seconds since
/// the Unix epoch). `None` when the value is missing, unparseable, zero or in the past.
/// The result is not capped: the policy's `retry_after_cap` does that.
pub fn parse_retry_after(value: &str, now_unix: f64) -> Option<f64> {
    if let Some(seconds) = parse_delta_seconds(value) {
        return (seconds > 0.0).then_some(seconds);
    }
    let at = parse_http_date(value)?;
    let wait = at - now_unix;
    (wait > 0.0 && wait.is_finite()).then_some(wait)
}

/// `^\s*[0-9]+\s*$`: no sign, no fraction. Huge values saturate (the cap applies later).
fn parse_delta_seconds(value: &str) -> Option<f64> {
    let digits = value.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        digits
            .parse::<u64>()
            .map(|s| s as f64)
            .unwrap_or(u64::MAX as f64),
    )
}

/// Parses an HTTP-date to seconds since the Unix epoch (UTC).
pub fn parse_http_date(value: &str) -> Option<f64> {
    let mut parts: Vec<&str> = value.split_whitespace().collect();
    if parts.is_empty() {
        return None;
    }
    // A leading day name ("Sun," / "Sunday," / "Sun") carries nothing.
    if parts[0].ends_with(',') || is_day_name(parts[0]) {
        parts.remove(0);
    }
    // RFC 850 keeps day, month and year in one token: "06-Nov-94".
    let mut split_date: Vec<&str>;
    if parts.len() == 3 {
        let pieces: Vec<&str> = parts[0].split('-').collect();
        if pieces.len() == 3 {
            split_date = pieces;
            split_date.extend_from_slice(&parts[1..]);
            parts = split_date;
        }
    }
    // A zone glued to the last token ("1994+0000"), or no zone at all.
    let mut tz = "";
    if parts.len() == 4 {
        let last = parts[3];
        let zone_at = last
            .char_indices()
            .skip(1)
            .find(|(_, c)| matches!(c, '+' | '-'));
        match zone_at.map(|(i, _)| i) {
            Some(i) => {
                parts[3] = &last[..i];
                tz = &last[i..];
            }
            None => tz = "",
        }
    } else if parts.len() >= 5 {
        tz = parts[4];
    }
    if parts.len() < 4 {
        return None;
    }
    let (mut day, mut month, mut year, mut time) = (parts[0], parts[1], parts[2], parts[3]);
    // asctime puts the month first.
    if month_number(month).is_none() {
        std::mem::swap(&mut day, &mut month);
    }
    let month = month_number(month)?;
    let day = day.trim_end_matches(',');
    // asctime puts the time before the year.
    if year.contains(':') {
        std::mem::swap(&mut year, &mut time);
    }
    let year = year.trim_end_matches(',');
    let time = time.trim_end_matches(',');

    let day: u32 = parse_small(day)?;
    let mut year: i64 = parse_small(year)? as i64;
    if year < 100 {
        year += if year > 68 { 1900 } else { 2000 };
    }
    let (hour, minute, second) = parse_time(time)?;
    if !(1..=9999).contains(&year) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let offset = zone_offset_seconds(tz)?;
    let days = days_from_civil(year, month, day);
    let local = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Some((local - offset) as f64)
}

fn parse_small(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_time(time: &str) -> Option<(u32, u32, u32)> {
    let sep = if time.contains(':') { ':' } else { '.' };
    let fields: Vec<&str> = time.split(sep).collect();
    match fields.as_slice() {
        [h, m] => Some((parse_small(h)?, parse_small(m)?, 0)),
        [h, m, s] => Some((parse_small(h)?, parse_small(m)?, parse_small(s)?)),
        _ => None,
    }
}

fn is_day_name(token: &str) -> bool {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    DAYS.iter().any(|d| token.eq_ignore_ascii_case(d))
}

fn month_number(token: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let token = token.trim_end_matches(',');
    MONTHS
        .iter()
        .position(|m| token.eq_ignore_ascii_case(m) || token.eq_ignore_ascii_case(&m[..3]))
        .map(|i| i as u32 + 1)
}

/// Offset east of UTC in seconds; an empty or unknown zone name counts as UTC (HTTP-dates are
/// always UTC), a malformed numeric offset fails the parse.
fn zone_offset_seconds(tz: &str) -> Option<i64> {
    let named = [
        ("UT", 0),
        ("UTC", 0),
        ("GMT", 0),
        ("Z", 0),
        ("AST", -4),
        ("ADT", -3),
        ("EST", -5),
        ("EDT", -4),
        ("CST", -6),
        ("CDT", -5),
        ("MST", -7),
        ("MDT", -6),
        ("PST", -8),
        ("PDT", -7),
    ];
    if let Some((_, hours)) = named.iter().find(|(n, _)| tz.eq_ignore_ascii_case(n)) {
        return Some(hours * 3600);
    }
    let (sign, digits) = match tz.as_bytes().first() {
        Some(b'+') => (1, &tz[1..]),
        Some(b'-') => (-1, &tz[1..]),
        Some(b) if b.is_ascii_digit() => (1, tz),
        _ => return Some(0),
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = digits.parse().ok()?;
    let (hours, minutes) = (value / 100, value % 100);
    if minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's civil-date algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 784_111_777.0; // Sun, 06 Nov 1994 08:49:37 GMT

    #[test]
    fn the_three_rfc_formats_agree() {
        for v in [
            "Sun, 06 Nov 1994 08:49:47 GMT",
            "Sunday, 06-Nov-94 08:49:47 GMT",
            "Sun Nov  6 08:49:47 1994",
            "Sun, 6 Nov 1994 08:49:47 +0000",
            "06 Nov 1994 08:49:47 UTC",
            "Sun, 06 Nov 1994 03:49:47 EST",
            "Sun, 06 Nov 1994 09:49:47 +0100",
        ] {
            assert_eq!(parse_retry_after(v, NOW), Some(10.0), "{v}");
        }
    }

    #[test]
    fn delta_seconds_are_strict() {
        assert_eq!(parse_retry_after(" 7 ", NOW), Some(7.0));
        for v in ["", "0", "-1", "+1", "1.5", "1e3", "abc", "7 s"] {
            assert_eq!(parse_retry_after(v, NOW), None, "{v:?}");
        }
    }

    #[test]
    fn epoch_is_day_zero() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0.0));
    }

    #[test]
    fn impossible_dates_are_no_hint() {
        for v in [
            "Sun, 31 Feb 2026 00:00:00 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Foo 1994 08:49:47 GMT",
        ] {
            assert_eq!(parse_http_date(v), None, "{v}");
        }
    }
}

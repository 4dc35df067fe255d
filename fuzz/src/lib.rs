//! Shared pieces of the fuzz targets: structured failures (built from `arbitrary` input) and
//! HTTP-dates to put in their `Retry-After` headers.

use arbitrary::Arbitrary;
use k8sretry::{Failure, Verb};

/// Statuses the engine treats specially, picked by index so the fuzzer reaches each quickly.
pub const STATUSES: [u16; 16] = [
    200, 400, 401, 403, 404, 408, 409, 410, 422, 429, 500, 502, 503, 504, 599, 100,
];

/// `Status.reason` values that change a decision, plus a few that do not.
pub const REASONS: [&str; 12] = [
    "TooManyRequests",
    "ServerTimeout",
    "Timeout",
    "ServiceUnavailable",
    "AlreadyExists",
    "Conflict",
    "NotFound",
    "Gone",
    "Expired",
    "InternalError",
    "BadRequest",
    "Invalid",
];

/// Network codes of every class (the default sets and some the engine does not know).
pub const CODES: [&str; 16] = [
    "ECONNRESET",
    "ECONNREFUSED",
    "ETIMEDOUT",
    "EPIPE",
    "ECONNABORTED",
    "ENOTFOUND",
    "EAI_AGAIN",
    "ENETUNREACH",
    "EHOSTUNREACH",
    "UND_ERR_SOCKET",
    "UND_ERR_CONNECT_TIMEOUT",
    "UND_ERR_HEADERS_TIMEOUT",
    "UND_ERR_BODY_TIMEOUT",
    "ERR_STREAM_PREMATURE_CLOSE",
    "econnreset",
    "EWHATEVER",
];

/// Every verb, indexed by the C ABI's numbers (`k8sretry_verb`).
pub const VERBS: [Verb; 8] = [
    Verb::Unknown,
    Verb::Get,
    Verb::List,
    Verb::Watch,
    Verb::Post,
    Verb::Put,
    Verb::Patch,
    Verb::Delete,
];

/// An HTTP status: none, one the engine treats specially, or any number.
#[derive(Arbitrary, Debug, Clone)]
pub enum StatusSpec {
    /// No response arrived.
    None,
    /// One of [`STATUSES`].
    Common(u8),
    /// Any number (0 means none; above 599 is no HTTP status at all).
    Any(u16),
}

/// A text that is either one of a list or anything.
#[derive(Arbitrary, Debug, Clone)]
pub enum TextSpec {
    /// Index into the list.
    Known(u8),
    /// Any text.
    Raw(String),
}

impl TextSpec {
    /// The text, from `list` or raw.
    pub fn text<'a>(&'a self, list: &'a [&'a str]) -> &'a str {
        match self {
            TextSpec::Known(i) => list[usize::from(*i) % list.len()],
            TextSpec::Raw(s) => s,
        }
    }
}

/// A `Retry-After` header value.
#[derive(Arbitrary, Debug, Clone)]
pub enum RetryAfterSpec {
    /// Delta-seconds.
    Delta(u32),
    /// An HTTP-date this many seconds from the clock's now, in one of the three forms
    /// (IMF-fixdate, RFC 850, asctime) picked by the byte.
    Date(i32, u8),
    /// Any text.
    Raw(String),
}

/// A `Status` body.
#[derive(Arbitrary, Debug, Clone)]
pub enum BodySpec {
    /// A well-formed Status with these fields.
    Status {
        /// `code`.
        code: Option<i64>,
        /// `reason` (index into [`REASONS`] or raw).
        reason: Option<TextSpec>,
        /// `details.retryAfterSeconds`.
        retry_after_seconds: Option<i64>,
    },
    /// Any text.
    Raw(String),
}

impl BodySpec {
    /// The body text.
    pub fn text(&self) -> String {
        match self {
            BodySpec::Raw(s) => s.clone(),
            BodySpec::Status {
                code,
                reason,
                retry_after_seconds,
            } => {
                let mut body = serde_json::Map::new();
                body.insert("kind".into(), "Status".into());
                if let Some(code) = code {
                    body.insert("code".into(), (*code).into());
                }
                if let Some(reason) = reason {
                    body.insert("reason".into(), reason.text(&REASONS).into());
                }
                if let Some(seconds) = retry_after_seconds {
                    let mut details = serde_json::Map::new();
                    details.insert("retryAfterSeconds".into(), (*seconds).into());
                    body.insert("details".into(), details.into());
                }
                serde_json::Value::Object(body).to_string()
            }
        }
    }
}

/// One failed attempt (or failed read), as a binding would describe it.
#[derive(Arbitrary, Debug, Clone)]
pub struct FailureSpec {
    /// HTTP status.
    pub status: StatusSpec,
    /// `Status.reason`.
    pub reason: Option<TextSpec>,
    /// `Retry-After` header.
    pub retry_after: Option<RetryAfterSpec>,
    /// `details.retryAfterSeconds`.
    pub retry_after_seconds: Option<i64>,
    /// A Status body read after the fields above.
    pub body: Option<BodySpec>,
    /// Network codes, outermost first.
    pub codes: Vec<TextSpec>,
    /// OS error numbers.
    pub errnos: Vec<i32>,
    /// A client-side timeout.
    pub timeout: bool,
    /// Cancelled by the caller.
    pub cancelled: bool,
    /// The caller's own rule says retryable.
    pub user_retryable: bool,
    /// The failed request's verb (index into [`VERBS`]).
    pub verb: u8,
}

impl FailureSpec {
    /// The failure, with HTTP-dates relative to `now_unix`.
    pub fn build(&self, now_unix: f64) -> Failure {
        let mut f = Failure::new();
        match self.status {
            StatusSpec::None => {}
            StatusSpec::Common(i) => f = f.with_status(STATUSES[usize::from(i) % STATUSES.len()]),
            StatusSpec::Any(s) => f = f.with_status(s),
        }
        if let Some(reason) = &self.reason {
            f = f.with_reason(reason.text(&REASONS));
        }
        if let Some(value) = &self.retry_after {
            f = f.with_retry_after(match value {
                RetryAfterSpec::Delta(s) => s.to_string(),
                RetryAfterSpec::Date(offset, form) => {
                    http_date(now_unix.floor() as i64 + i64::from(*offset), *form)
                }
                RetryAfterSpec::Raw(s) => s.clone(),
            });
        }
        if let Some(seconds) = self.retry_after_seconds {
            f = f.with_retry_after_seconds(seconds);
        }
        if let Some(body) = &self.body {
            f = f.with_status_body(&body.text());
        }
        for code in self.codes.iter().take(20) {
            f = f.with_code(code.text(&CODES));
        }
        for errno in self.errnos.iter().take(4) {
            f = f.with_errno(*errno);
        }
        f.with_timeout(self.timeout)
            .with_cancelled(self.cancelled)
            .with_user_retryable(self.user_retryable)
            .with_verb(VERBS[usize::from(self.verb) % VERBS.len()])
    }
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const LONG_DAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `unix` seconds as an HTTP-date: IMF-fixdate (`form % 3 == 0`), RFC 850, or asctime. Years
/// outside 1..=9999 are written as they come (the parser refuses them).
pub fn http_date(unix: i64, form: u8) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    let weekday = days.rem_euclid(7) as usize;
    let month = MONTHS[(m - 1) as usize];
    match form % 3 {
        0 => format!(
            "{}, {d:02} {month} {y:04} {hh:02}:{mm:02}:{ss:02} GMT",
            DAYS[weekday]
        ),
        1 => format!(
            "{}, {d:02}-{month}-{:02} {hh:02}:{mm:02}:{ss:02} GMT",
            LONG_DAYS[weekday],
            y.rem_euclid(100)
        ),
        _ => format!(
            "{} {month} {d:>2} {hh:02}:{mm:02}:{ss:02} {y}",
            DAYS[weekday]
        ),
    }
}

/// Year, month (1-12), day of a day count since 1970-01-01 (H. Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `delay <= bound`, allowing for the rounding of a delay computed in `f64` seconds and stored in
/// whole nanoseconds (a few ns at most, for bounds of months).
pub fn within(delay: std::time::Duration, bound: std::time::Duration) -> bool {
    let bound = bound.as_nanos();
    delay.as_nanos() <= bound + (bound >> 40) + 1
}

/// Runs `f` on a new thread with a stack of `stack` bytes (Go and Node call the library on
/// threads with small stacks), so that unbounded recursion shows at a few KB of input, and
/// waits for it. The thread gets an alternate signal stack: a stack overflow there is reported by
/// libFuzzer as a crash with its input saved, instead of a bare SIGSEGV (see [`signal_stacks`]).
pub fn on_small_stack(stack: usize, f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            let _alt = AltStack::new();
            f();
        })
        .expect("a thread")
        .join()
        .expect("no panic on the small stack");
}

/// An alternate signal stack for the current thread, removed on drop.
struct AltStack {
    memory: Vec<u8>,
}

impl AltStack {
    const SIZE: usize = 256 << 10;

    fn new() -> AltStack {
        let mut memory = vec![0u8; AltStack::SIZE];
        let stack = libc::stack_t {
            ss_sp: memory.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: AltStack::SIZE,
        };
        // SAFETY: `memory` outlives the registration (it is removed in `drop`).
        unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) };
        AltStack { memory }
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let stack = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disables this thread's alternate stack before its memory is freed.
        unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) };
        let _ = self.memory.len();
    }
}

/// Before `main`: SIGSEGV, SIGBUS and SIGABRT keep their default action but are flagged
/// `SA_ONSTACK`, which libFuzzer carries over to the crash handlers it installs, so they run on
/// an alternate signal stack where a thread has one (the main thread gets one here too).
/// Without it a stack overflow kills the fuzzer with no report and no saved input.
extern "C" fn signal_stacks() {
    for signal in [libc::SIGSEGV, libc::SIGBUS, libc::SIGABRT] {
        // SAFETY: plain sigaction calls on a zeroed struct, before any other thread exists.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = libc::SIG_DFL;
            action.sa_flags = libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
    std::mem::forget(AltStack::new());
}

#[used]
#[unsafe(link_section = ".init_array")]
static SIGNAL_STACKS: extern "C" fn() = signal_stacks;

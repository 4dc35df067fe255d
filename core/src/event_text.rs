//! The one rule for error text in events and log lines (DESIGN §7), used by every language: the
//! core applies it to each event's `error` and `reason` before the `tracing` event and the
//! callbacks (C, Go, Python, Node) see it.
//!
//! Errors of Kubernetes clients can embed whatever the request or the response held: a whole
//! response body (apimachinery's "an error on the server (...)"), the request body (a Secret's
//! data), a header dump with the bearer token. An event carries:
//!
//! 1. the first line only, control characters turned into spaces;
//! 2. nothing from the first `{` or `<` on (a JSON or HTML body, a dumped struct);
//! 3. credentials replaced by `[redacted]`: the word after `Bearer` / `Basic`; the value after a
//!    key naming a credential (`token`, `password`, `secret`, `authorization`, `api-key`,
//!    `credential`, `cookie`, ... followed by `=` or `:`); the user info of a URL
//!    (`https://user:pass@host`); and any opaque word (letters, digits, `+/_-.`, `=` padding) of
//!    16 or more characters that mixes upper case, lower case and digits (base64 such as a Secret's
//!    data, a JWT) or of 32 or more letters and digits only (a hex key);
//! 4. at most [`MAX_EVENT_TEXT`] bytes, cut on a character boundary.
//!
//! Text shortened by 2 or 4 ends in `…`. The rule is a filter of known shapes, not a proof: a
//! caller whose errors carry other secrets should not put them in error messages.

use std::borrow::Cow;

/// The most bytes of error text an event or log line carries (the `…` that marks a cut included).
pub const MAX_EVENT_TEXT: usize = 256;

const REDACTED: &str = "[redacted]";
const CUT: &str = "…";

/// Words that, followed by `=` or `:`, name a credential (compared lower-case, as substrings).
const SECRET_KEYS: [&str; 9] = [
    "token",
    "password",
    "passwd",
    "secret",
    "authorization",
    "api-key",
    "apikey",
    "api_key",
    "credential",
];
/// Keys compared whole (lower-case): substrings would catch ordinary words.
const SECRET_KEYS_EXACT: [&str; 3] = ["cookie", "set-cookie", "auth"];
/// Authorization schemes whose next word is a credential.
const SCHEMES: [&str; 2] = ["bearer", "basic"];

/// `text` as events and log lines carry it (see the module documentation). Borrowed when the
/// rule changes nothing.
pub fn event_text(text: &str) -> Cow<'_, str> {
    let trimmed = text.trim();
    let line = trimmed.split(['\n', '\r']).next().unwrap_or("");
    let mut cut = line.len() < trimmed.len();
    let line = match line.find(['{', '<']) {
        Some(i) => {
            cut = true;
            &line[..i]
        }
        None => line,
    };
    let line: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = redact(&without_userinfo(line.trim()));
    if out.len() > MAX_EVENT_TEXT || (cut && out.len() + CUT.len() > MAX_EVENT_TEXT) {
        let mut end = MAX_EVENT_TEXT - CUT.len();
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        cut = true;
    }
    if cut {
        out.push_str(CUT);
    }
    if out == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(out)
    }
}

/// `scheme://user:pass@host` -> `scheme://[redacted]@host`.
fn without_userinfo(line: &str) -> Cow<'_, str> {
    if !line.contains("://") {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"')
            .unwrap_or(tail.len());
        match tail[..authority_end].rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                rest = &tail[at..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '_' | '-' | '.')
}

/// Base64 (a Secret's data, a JWT, a token) or a long hex key.
fn is_opaque(word: &str) -> bool {
    let has = |f: fn(&char) -> bool| word.chars().any(|c| f(&c));
    let (upper, lower, digit) = (
        has(char::is_ascii_uppercase),
        has(char::is_ascii_lowercase),
        has(char::is_ascii_digit),
    );
    (word.len() >= 16 && upper && lower && digit)
        || (word.len() >= 32 && digit && word.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// A key naming a credential: `password`, `data.password`, `client_secret`, `X-Auth-Token`; not a
/// path (`/api/v1/namespaces/ns/secrets/db: ...`).
fn is_secret_key(word: &str) -> bool {
    if word.contains('/') {
        return false;
    }
    let lower = word.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|k| lower.contains(k)) || SECRET_KEYS_EXACT.contains(&lower.as_str())
}

/// Replaces credentials by [`REDACTED`] (rule 3 but the URL user info).
fn redact(line: &str) -> String {
    // Words (runs of word characters, with their `=` padding) and the text between them.
    let mut tokens: Vec<(bool, &str)> = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        let word_len = rest.find(|c| !is_word_char(c)).unwrap_or(rest.len());
        if word_len > 0 {
            let padding = rest[word_len..]
                .find(|c| c != '=')
                .unwrap_or(rest.len() - word_len);
            // `key=value`: the `=` is a separator, not padding, when a word follows it.
            let after = &rest[word_len + padding..];
            let padding = if after.starts_with(is_word_char) {
                0
            } else {
                padding
            };
            tokens.push((true, &rest[..word_len + padding]));
            rest = &rest[word_len + padding..];
        } else {
            let gap_len = rest.find(is_word_char).unwrap_or(rest.len());
            tokens.push((false, &rest[..gap_len]));
            rest = &rest[gap_len..];
        }
    }
    let mut out = String::with_capacity(line.len());
    // The next word is a credential (after `Bearer`, or after `password=`).
    let mut secret_next = false;
    for (i, (is_word, token)) in tokens.iter().enumerate() {
        if !is_word {
            out.push_str(token);
            continue;
        }
        let lower = token.to_ascii_lowercase();
        let scheme = SCHEMES.contains(&lower.as_str());
        if secret_next && !scheme {
            out.push_str(REDACTED);
            secret_next = false;
            continue;
        }
        let separator = tokens.get(i + 1).is_some_and(|(w, gap)| {
            !w && gap
                .trim_start_matches(['"', '\'', ' '])
                .starts_with([':', '='])
        });
        if scheme || (is_secret_key(token) && separator) {
            secret_next = true;
            out.push_str(token);
        } else if is_opaque(token.trim_end_matches('=')) {
            out.push_str(REDACTED);
        } else {
            out.push_str(token);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_errors_pass_unchanged_and_borrowed() {
        for text in [
            "dial tcp 10.0.0.1:6443: connect: connection refused",
            "Service Unavailable",
            "http2: server sent GOAWAY and closed the connection; LastStreamID=1999, ErrCode=NO_ERROR, debug=\"\"",
            "Get \"https://[::1]:6443/api/v1/namespaces/default/pods/my-app-5d8f7c9b6d-x7k2p\": EOF",
            "pods \"web-0\" is forbidden: User \"system:serviceaccount:ci:runner\" cannot get resource",
            "Get \"https://10.0.0.1/api/v1/namespaces/ns/secrets/db\": context deadline exceeded",
            "x509: certificate signed by unknown authority",
        ] {
            assert!(
                matches!(event_text(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
    }

    #[test]
    fn first_line_without_bodies_or_credentials() {
        let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl";
        let secret = "c3VwZXJzZWNyZXQtcGFzc3dvcmQ=";
        let text = format!(
            "Put \"https://admin:hunter2@10.0.0.1:6443/api/v1/namespaces/default/secrets/db\": \
             Authorization: Bearer {token}, password={secret}, data.key {secret} rejected: \
             {{\"kind\":\"Secret\",\"data\":{{\"k\":\"{secret}\"}}}}\nrequest body: name=db"
        );
        let out = event_text(&text);
        for gone in [
            token,
            secret,
            "hunter2",
            "admin",
            "\"kind\"",
            "request body",
        ] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert_eq!(
            out,
            "Put \"https://[redacted]@10.0.0.1:6443/api/v1/namespaces/default/secrets/db\": \
             Authorization: Bearer [redacted], password=[redacted], data.key [redacted] rejected:…"
        );
    }

    #[test]
    fn schemes_and_keys() {
        assert_eq!(event_text("token: abc def"), "token: [redacted] def");
        assert_eq!(
            event_text("\"api_key\":\"x1\""),
            "\"api_key\":\"[redacted]\""
        );
        assert_eq!(event_text("basic dXNlcjpwYXNz"), "basic [redacted]");
        assert_eq!(
            event_text("Authorization=Basic dXNlcjpwYXNz ok"),
            "Authorization=Basic [redacted] ok"
        );
        assert_eq!(event_text("cookie: s=1"), "cookie: [redacted]=1");
        // A key without a separator is an ordinary word.
        assert_eq!(event_text("the token expired"), "the token expired");
        let hex = "0123456789abcdef0123456789abcdef";
        assert_eq!(event_text(&format!("key {hex}")), "key [redacted]");
    }

    #[test]
    fn bounded_on_a_character_boundary() {
        let text = "é".repeat(400);
        let out = event_text(&text);
        assert!(out.len() <= MAX_EVENT_TEXT, "{}", out.len());
        assert!(out.ends_with(CUT));
        assert!(out.trim_end_matches(CUT).chars().all(|c| c == 'é'));
        // Exactly at the limit: unchanged.
        let text = "a".repeat(MAX_EVENT_TEXT);
        assert_eq!(event_text(&text), text);
        let text = format!("{}\nsecond", "a".repeat(MAX_EVENT_TEXT));
        let out = event_text(&text);
        assert!(out.len() <= MAX_EVENT_TEXT && out.ends_with(CUT), "{out}");
    }

    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(event_text("a\tb\u{1b}[31mc\0"), "a b [31mc");
        assert_eq!(event_text("  \n"), "");
        assert_eq!(event_text("{\"kind\":\"Status\"}"), "…");
    }

    #[test]
    fn any_input_stays_bounded_single_line() {
        let mut seed = 7u64;
        for _ in 0..2000 {
            let len = (seed % 700) as usize;
            let text: String = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let alphabet = [
                        'a', 'Z', '7', '=', ':', ' ', '\n', '{', '@', '/', 'é', '€', '"', '\t',
                    ];
                    alphabet[(seed >> 33) as usize % alphabet.len()]
                })
                .collect();
            let out = event_text(&text);
            assert!(out.len() <= MAX_EVENT_TEXT, "{text:?}");
            assert!(
                !out.contains(['\n', '\r', '{', '\t']),
                "{text:?} -> {out:?}"
            );
        }
    }
}

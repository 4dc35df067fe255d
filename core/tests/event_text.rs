//! DESIGN §7: a failure whose error text carries a bearer token, a Secret's data and the request
//! body puts none of them in any event (the policy's callback) or log line (`tracing`).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use k8sretry::{
    BudgetChoice, Call, Decision, Event, EventCallback, Failure, GiveUpReason, MAX_EVENT_TEXT,
    PolicyBuilder, Verb,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, Subscriber};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpjaSJ9.c2lnbmF0dXJlLW5vdC1yZWFs";
const SECRET: &str = "c3VwZXItc2VjcmV0LXBhc3N3b3JkLTQy";
const BODY: &str = "request-body-canary";

fn error_text() -> String {
    format!(
        "Put \"https://127.0.0.1:6443/api/v1/namespaces/default/secrets/db\": \
         Authorization: Bearer {TOKEN}; data.password={SECRET}; request body: \
         {{\"kind\":\"Secret\",\"metadata\":{{\"name\":\"db\"}},\"data\":{{\"password\":\"{SECRET}\"}},\
         \"stringData\":{{\"note\":\"{BODY}\"}}}}\nresponse body: {BODY} {SECRET}"
    )
}

/// Every `tracing` event, all its fields written out.
#[derive(Default, Clone)]
struct Lines(Arc<Mutex<Vec<String>>>);

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl Subscriber for Lines {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = event.metadata().level().to_string();
        event.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn no_credentials_bodies_or_secret_data_in_events_or_logs() {
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&events);
    let callback: EventCallback = Arc::new(move |e: &Event<'_>| {
        sink.lock().unwrap().push(format!("{e:?}"));
        assert!(e.error.is_some_and(|t| t.len() <= MAX_EVENT_TEXT));
    });
    let policy = PolicyBuilder::preset("default")
        .unwrap()
        .max_retries(1)
        .budget(BudgetChoice::Disabled)
        .on_event(Some(callback))
        .build()
        .unwrap();
    let failure = Failure::new()
        .with_status(503)
        .with_reason(format!("ServiceUnavailable token={TOKEN}"))
        .with_verb(Verb::Put)
        .with_error("StatusError", error_text());
    let lines = Lines::default();
    tracing::subscriber::with_default(lines.clone(), || {
        let mut call = Call::new(&policy, "replace_secret").with_verb(Verb::Put);
        assert!(matches!(call.on_failure(&failure), Decision::Retry { .. }));
        assert_eq!(
            call.on_failure(&failure),
            Decision::GiveUp(GiveUpReason::MaxRetries)
        );
    });
    let events = events.lock().unwrap();
    let lines = lines.0.lock().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(lines.len(), 2, "{lines:?}");
    for text in events.iter().chain(lines.iter()) {
        for secret in [TOKEN, SECRET, BODY, "\"kind\"", "stringData"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        // What is left still says what happened.
        assert!(text.contains("secrets/db"), "{text}");
        assert!(text.contains("Bearer [redacted]"), "{text}");
    }
}

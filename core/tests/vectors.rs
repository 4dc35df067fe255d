//! Runs every conformance vector in `tests/vectors/` through the public API. `core/tests/vectors`
//! is a symlink to the repository's one copy; `cargo package` copies the files it points to, so the
//! packaged crate's tests read them from inside the crate.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use k8sretry::plan::{self, PatchType, Request};
use k8sretry::{
    Call, Class, Decision, Event, Failure, ManualClock, PolicyBuilder, ReadOutcome, Recovery,
    StepError, Verb, parse_retry_after,
};
use serde_json::{Map, Value, json};

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("vector file is JSON")
}

fn items<'a>(doc: &'a Value, key: &str) -> &'a Vec<Value> {
    doc[key].as_array().expect("array of vectors")
}

fn failure_from(v: &Value) -> Failure {
    let o = v.as_object().cloned().unwrap_or_default();
    let mut f = Failure::new();
    if let Some(s) = o.get("status").and_then(Value::as_u64) {
        f = f.with_status(s as u16);
    }
    if let Some(r) = o.get("reason").and_then(Value::as_str) {
        f = f.with_reason(r);
    }
    if let Some(b) = o.get("body").and_then(Value::as_str) {
        f = f.with_status_body(b);
    }
    if let Some(r) = o.get("retry_after").and_then(Value::as_str) {
        f = f.with_retry_after(r);
    }
    if let Some(s) = o.get("retry_after_seconds").and_then(Value::as_i64) {
        f = f.with_retry_after_seconds(s);
    }
    for code in o
        .get("codes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        f = f.with_code(code.as_str().expect("code is a string"));
    }
    let flag = |k: &str| o.get(k).and_then(Value::as_bool).unwrap_or(false);
    f = f
        .with_timeout(flag("timeout"))
        .with_cancelled(flag("cancelled"))
        .with_user_retryable(flag("user_retryable"));
    if let Some(verb) = o.get("verb").and_then(Value::as_str) {
        f = f.with_verb(Verb::parse(verb).expect("verb name"));
    }
    f
}

/// The vector's exact policy text as a builder, so the manual clock can be attached.
fn policy_builder(vector: &Value) -> PolicyBuilder {
    let text = vector
        .get("policy_json")
        .and_then(Value::as_str)
        .unwrap_or("{}");
    PolicyBuilder::from_json(text).unwrap_or_else(|e| panic!("policy {text}: {e}"))
}

#[test]
fn classification_vectors() {
    let doc = load("classification.json");
    let cases = items(&doc, "cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let policy = policy_builder(case).build().unwrap();
        let failure = failure_from(&case["failure"]);
        let class = policy.classify(&failure);
        assert_eq!(
            Some(class),
            Class::parse(case["class"].as_str().unwrap()),
            "{name}"
        );
        assert_eq!(
            policy.is_retryable(&failure),
            case["retryable"].as_bool().unwrap(),
            "{name}"
        );
    }
    assert!(
        cases.len() >= 60,
        "only {} classification vectors",
        cases.len()
    );
}

#[test]
fn retry_after_vectors() {
    let doc = load("retry_after.json");
    let now = doc["now"].as_f64().unwrap();
    for case in items(&doc, "cases") {
        let name = case["name"].as_str().unwrap();
        let got = parse_retry_after(case["value"].as_str().unwrap(), now);
        match case["seconds"].as_f64() {
            None => assert_eq!(got, None, "{name}"),
            Some(want) => {
                let got = got.unwrap_or_else(|| panic!("{name}: no hint, want {want}"));
                assert!(
                    (got - want).abs() <= 1e-9 * want.max(1.0),
                    "{name}: {got} != {want}"
                );
            }
        }
    }
}

fn run_scenarios(file: &str) -> usize {
    let doc = load(file);
    let scenarios = items(&doc, "scenarios");
    for scenario in scenarios {
        run_scenario(scenario);
    }
    scenarios.len()
}

/// Runs the steps of `scenario`; returns the events its calls emitted, as `events.json` writes
/// them.
fn run_scenario(scenario: &Value) -> Vec<Value> {
    let name = scenario["name"].as_str().unwrap();
    let clock = Arc::new(ManualClock::new(scenario["start_unix"].as_f64().unwrap()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let policy = policy_builder(scenario)
        .clock(clock.clone())
        .on_event(Some(Arc::new(move |e: &Event<'_>| {
            sink.lock().unwrap().push(json!({
                "function": e.function,
                "event": e.kind.name(),
                "attempt": e.attempt,
                "level": e.level_name(),
                "give_up": e.give_up.map(|g| g.as_str()),
            }))
        })))
        .build()
        .unwrap();
    let mut calls: HashMap<String, Call> = HashMap::new();
    for (i, step) in items(scenario, "steps").iter().enumerate() {
        let at = format!("{name}: step {i} {step}");
        let call_id = step
            .get("call")
            .and_then(Value::as_str)
            .unwrap_or("a")
            .to_owned();
        match step["op"].as_str().unwrap() {
            "begin" => {
                let recovery =
                    Recovery::parse(step["recovery"].as_str().unwrap()).expect("recovery name");
                let flag = |key: &str| step.get(key).and_then(Value::as_bool);
                let nested = flag("nested").unwrap_or(false);
                let reader = flag("reader").unwrap_or(true);
                let call = Call::start(&policy, step["function"].as_str().unwrap(), nested)
                    .with_verb(Verb::parse(step["verb"].as_str().unwrap()).expect("verb name"))
                    .with_recovery(recovery)
                    .with_reader(reader);
                calls.insert(call_id, call);
            }
            "fail" => {
                let call = calls.get_mut(&call_id).expect("call begun");
                let decision = call.try_on_failure(&failure_from(&step["failure"]));
                check_step(decision, &step["expect"], &at);
            }
            "read_back" => {
                let call = calls.get_mut(&call_id).expect("call begun");
                let failure = failure_from(&step["failure"]);
                let outcome = match step["outcome"].as_str().unwrap() {
                    "ours" => ReadOutcome::Ours,
                    "not_ours" => ReadOutcome::NotOurs,
                    "missing" => ReadOutcome::Missing,
                    "failed" => ReadOutcome::Failed(&failure),
                    other => panic!("{at}: unknown outcome {other}"),
                };
                check_step(call.on_read_back(outcome), &step["expect"], &at);
            }
            "cancel" => {
                let call = calls.get_mut(&call_id).expect("call begun");
                check_step(call.on_cancelled(), &step["expect"], &at);
            }
            "resume" => {
                let call = calls.get_mut(&call_id).expect("call begun");
                check_step(call.resume(), &step["expect"], &at);
            }
            "succeed" => {
                let call = calls.get_mut(&call_id).expect("call begun");
                if let Some(n) = step.get("attempts").and_then(Value::as_u64) {
                    assert_eq!(u64::from(call.attempts()), n, "{at}");
                }
                call.on_success();
            }
            "advance" => clock.advance_seconds(step["seconds"].as_f64().unwrap()),
            other => panic!("{at}: unknown op {other}"),
        }
    }
    std::mem::take(&mut *seen.lock().unwrap())
}

fn check_step(step: Result<Decision, StepError>, expect: &Value, at: &str) {
    let want: &Map<String, Value> = expect.as_object().expect("expect object");
    let Ok(decision) = step else {
        assert_eq!(want["decision"], "error", "{at}: {step:?}");
        return;
    };
    match (want["decision"].as_str().unwrap(), decision) {
        ("retry", Decision::Retry { delay })
        | ("read_back", Decision::ReadBack { delay })
        | ("wait", Decision::Wait { delay }) => {
            let want = want["delay"].as_f64().unwrap();
            let got = delay.as_secs_f64();
            assert!((got - want).abs() <= 1e-6, "{at}: delay {got} != {want}");
        }
        ("give_up", Decision::GiveUp(reason)) => {
            assert_eq!(reason.as_str(), want["reason"].as_str().unwrap(), "{at}")
        }
        ("done", Decision::Done) | ("recovered", Decision::Recovered) => {}
        (kind, got) => panic!("{at}: want {kind}, got {got:?}"),
    }
}

#[test]
fn delay_vectors() {
    assert!(run_scenarios("delays.json") >= 25);
}

#[test]
fn decision_vectors() {
    assert!(run_scenarios("decisions.json") >= 50);
}

#[test]
fn event_vectors() {
    let doc = load("events.json");
    for scenario in items(&doc, "scenarios") {
        let got = run_scenario(scenario);
        assert_eq!(
            &Value::Array(got),
            &scenario["events"],
            "{}",
            scenario["name"]
        );
    }
}

#[test]
fn plan_vectors() {
    let doc = load("plans.json");
    for case in items(&doc, "cases") {
        let name = case["name"].as_str().unwrap();
        let r = &case["request"];
        let flag = |k: &str| r.get(k).and_then(Value::as_bool).unwrap_or(false);
        let patch = match (r.get("patch"), r.get("content_type")) {
            (Some(p), _) => Some(PatchType::parse(p.as_str().unwrap()).expect("patch name")),
            (_, Some(ct)) => PatchType::from_content_type(ct.as_str().unwrap()),
            _ => None,
        };
        let chosen = plan::choose(&Request {
            verb: Verb::parse(r["verb"].as_str().unwrap()).expect("verb name"),
            resource: r.get("resource").and_then(Value::as_str).unwrap_or(""),
            named: flag("named"),
            generate_name: flag("generate_name"),
            resource_version: flag("resource_version"),
            patch,
            object_body: flag("object_body"),
            adopt_existing: flag("adopt_existing"),
            can_get: flag("can_get"),
            can_list: flag("can_list"),
            missing_ok: flag("missing_ok"),
        });
        assert_eq!(chosen.recovery.as_str(), case["recovery"], "{name}");
        assert_eq!(chosen.stamp.as_str(), case["stamp"], "{name}");
    }
}

#[test]
fn at_least_150_vectors() {
    let count: usize = ["classification.json", "retry_after.json"]
        .iter()
        .map(|f| items(&load(f), "cases").len())
        .chain(
            ["delays.json", "decisions.json"]
                .iter()
                .map(|f| items(&load(f), "scenarios").len()),
        )
        .sum();
    assert!(count >= 150, "{count} vectors");
}

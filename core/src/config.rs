//! Policies from JSON, so one config file serves every language (DESIGN §6).
//!
//! Keys are the snake_case names of the presets table plus the classification sets, budget,
//! breaker and seed. Unknown keys and wrong types are errors that name the key.

use std::sync::Arc;

use serde::Deserialize;

use crate::breaker::CircuitBreaker;
use crate::budget::RetryBudget;
use crate::builder::{BudgetChoice, PolicyBuilder};
use crate::delay::Jitter;
use crate::error::{PolicyError, invalid};
use crate::policy::Policy;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyConfig {
    preset: Option<String>,
    max_retries: Option<u32>,
    initial_delay: Option<f64>,
    max_delay: Option<f64>,
    exponential_base: Option<f64>,
    jitter: Option<JitterConfig>,
    retry_after_cap: Option<f64>,
    retry_after_spread: Option<f64>,
    retry_after_statuses: Option<Vec<u16>>,
    retry_statuses: Option<Vec<u16>>,
    not_sent_codes: Option<Vec<String>>,
    ambiguous_codes: Option<Vec<String>>,
    retry_timeouts: Option<bool>,
    #[serde(default, deserialize_with = "explicit")]
    deadline: Option<Option<f64>>,
    #[serde(default, deserialize_with = "explicit")]
    budget: Option<Option<BudgetConfig>>,
    #[serde(default, deserialize_with = "explicit")]
    breaker: Option<Option<BreakerConfig>>,
    seed: Option<u64>,
}

/// `"none" | "full" | "equal" | "decorrelated" | 0.1 | {"proportional": 0.1} | {"upward": 0.1}`
#[derive(Deserialize)]
#[serde(untagged)]
enum JitterConfig {
    Named(String),
    Proportional(f64),
    Object(ProportionalJitter),
    Upward(UpwardJitter),
}

/// `{"upward": 0.1}`: client-go's jitter, `d` times uniform in `[1, 1+s]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpwardJitter {
    upward: f64,
}

/// `{"proportional": 0.1}`; any other key is an error, as at the top level.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProportionalJitter {
    proportional: f64,
}

/// `"shared" | false | {"ratio": 0.2, "min_per_second": 10, "ttl": 10}`
#[derive(Deserialize)]
#[serde(untagged)]
enum BudgetConfig {
    Named(String),
    Enabled(bool),
    Own(OwnBudget),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnBudget {
    ratio: Option<f64>,
    burst: Option<f64>,
    min_per_second: Option<u32>,
    min_per_episode: Option<u32>,
    ttl: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakerConfig {
    failure_threshold: Option<u32>,
    open_for: Option<f64>,
}

/// Distinguishes a key set to `null` (`Some(None)`) from a missing key (`None`).
fn explicit<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl Policy {
    /// A policy from JSON with the snake_case keys of DESIGN §6 (see `tests/vectors/README.md`).
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        PolicyBuilder::from_json(text)?.build()
    }
}

impl Policy {
    /// The policy as the JSON [`Policy::from_json`] reads: every setting, the preset's included,
    /// so two policies with the same JSON decide alike (an own budget or breaker is written as
    /// its settings; a callback, clock or injected random source is not written).
    pub fn to_json(&self) -> String {
        use serde_json::{Value, json};
        let backoff = self.backoff();
        let jitter = match backoff.jitter {
            Jitter::None => json!("none"),
            Jitter::Full => json!("full"),
            Jitter::Equal => json!("equal"),
            Jitter::Decorrelated => json!("decorrelated"),
            Jitter::Proportional(s) => json!({ "proportional": s }),
            Jitter::Upward(s) => json!({ "upward": s }),
        };
        let budget = match self.budget() {
            None => Value::Null,
            Some(b) if Arc::ptr_eq(b, crate::budget::shared_budget()) => json!("shared"),
            Some(b) => json!({
                "ratio": b.ratio(),
                "burst": b.burst(),
                "min_per_second": b.min_per_second(),
                "ttl": b.ttl().as_secs_f64(),
            }),
        };
        let breaker = self.breaker().map_or(Value::Null, |b| {
            json!({ "failure_threshold": b.failure_threshold(), "open_for": b.open_for().as_secs_f64() })
        });
        let classifier = self.classifier();
        let mut out = json!({
            "preset": self.name(),
            "max_retries": self.max_retries(),
            "initial_delay": backoff.initial_delay.as_secs_f64(),
            "max_delay": backoff.max_delay.as_secs_f64(),
            "exponential_base": backoff.exponential_base,
            "jitter": jitter,
            "retry_after_cap": self.retry_after_cap().as_secs_f64(),
            "retry_after_statuses": self.retry_after_statuses_set(),
            "retry_statuses": classifier.retry_statuses,
            "not_sent_codes": classifier.not_sent_codes,
            "ambiguous_codes": classifier.ambiguous_codes,
            "retry_timeouts": classifier.retry_timeouts,
            "deadline": self.deadline().map(|d| d.as_secs_f64()),
            "budget": budget,
            "breaker": breaker,
        });
        if let (Some(seed), Value::Object(map)) = (self.seed(), &mut out) {
            map.insert("seed".into(), json!(seed));
        }
        out.to_string()
    }
}

impl PolicyBuilder {
    /// A builder from JSON (see [`Policy::from_json`]), for attaching a clock or callback.
    pub fn from_json(text: &str) -> Result<PolicyBuilder, PolicyError> {
        builder_from_json(text)
    }
}

fn builder_from_json(text: &str) -> Result<PolicyBuilder, PolicyError> {
    let config: PolicyConfig =
        serde_json::from_str(text).map_err(|e| PolicyError::Json(e.to_string()))?;
    let mut b = PolicyBuilder::preset(config.preset.as_deref().unwrap_or("default"))?;
    if let Some(v) = config.max_retries {
        b = b.max_retries(v);
    }
    if let Some(v) = config.initial_delay {
        b = b.initial_delay(v);
    }
    if let Some(v) = config.max_delay {
        b = b.max_delay(v);
    }
    if let Some(v) = config.exponential_base {
        b = b.exponential_base(v);
    }
    if let Some(j) = config.jitter {
        b = b.jitter(jitter(j)?);
    }
    if let Some(v) = config.retry_after_cap {
        b = b.retry_after_cap(v);
    }
    if let Some(v) = config.retry_after_spread {
        b = b.retry_after_spread(v);
    }
    if let Some(v) = config.retry_after_statuses {
        b = b.retry_after_statuses(v);
    }
    if let Some(v) = config.retry_statuses {
        b = b.retry_statuses(v);
    }
    if let Some(v) = config.not_sent_codes {
        b = b.not_sent_codes(v);
    }
    if let Some(v) = config.ambiguous_codes {
        b = b.ambiguous_codes(v);
    }
    if let Some(v) = config.retry_timeouts {
        b = b.retry_timeouts(v);
    }
    if let Some(v) = config.deadline {
        b = b.deadline(v);
    }
    if let Some(v) = config.budget {
        b = b.budget(budget(v)?);
    }
    if let Some(v) = config.breaker {
        b = b.breaker(v.map(breaker).transpose()?);
    }
    if config.seed.is_some() {
        b = b.seed(config.seed);
    }
    Ok(b)
}

fn jitter(config: JitterConfig) -> Result<Jitter, PolicyError> {
    Ok(match config {
        JitterConfig::Named(name) => match name.as_str() {
            "none" => Jitter::None,
            "full" => Jitter::Full,
            "equal" => Jitter::Equal,
            "decorrelated" => Jitter::Decorrelated,
            other => {
                return Err(invalid(
                    "jitter",
                    format!(
                        "unknown mode {other:?} (expected none, full, equal, decorrelated, a number, {{\"proportional\": s}} or {{\"upward\": s}})"
                    ),
                ));
            }
        },
        JitterConfig::Proportional(s)
        | JitterConfig::Object(ProportionalJitter { proportional: s }) => Jitter::Proportional(s),
        JitterConfig::Upward(UpwardJitter { upward: s }) => Jitter::Upward(s),
    })
}

fn budget(config: Option<BudgetConfig>) -> Result<BudgetChoice, PolicyError> {
    Ok(match config {
        None | Some(BudgetConfig::Enabled(false)) => BudgetChoice::Disabled,
        Some(BudgetConfig::Enabled(true)) => BudgetChoice::Shared,
        Some(BudgetConfig::Named(name)) if name == "shared" => BudgetChoice::Shared,
        Some(BudgetConfig::Named(other)) => {
            return Err(invalid(
                "budget",
                format!("unknown budget {other:?} (expected \"shared\", false, null or an object)"),
            ));
        }
        Some(BudgetConfig::Own(own)) => {
            let budget = RetryBudget::try_new(
                own.ratio.unwrap_or(RetryBudget::DEFAULT_RATIO),
                own.min_per_second
                    .unwrap_or(RetryBudget::DEFAULT_MIN_PER_SECOND),
                own.ttl.unwrap_or(RetryBudget::DEFAULT_TTL.as_secs_f64()),
            )?;
            let budget = match own.burst {
                Some(burst) => budget.with_burst(burst)?,
                None => budget,
            };
            let budget = match own.min_per_episode {
                Some(m) => budget.with_min_per_episode(m)?,
                None => budget,
            };
            BudgetChoice::Own(Arc::new(budget))
        }
    })
}

fn breaker(config: BreakerConfig) -> Result<Arc<CircuitBreaker>, PolicyError> {
    Ok(Arc::new(CircuitBreaker::try_new(
        config.failure_threshold.unwrap_or(5),
        config.open_for.unwrap_or(30.0),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_json_reads_back_as_the_same_policy() {
        for text in [
            r#"{"preset": "mutation"}"#,
            r#"{"preset": "read", "max_retries": 2, "jitter": {"upward": 0.5}, "seed": 7, "deadline": 3}"#,
            r#"{"budget": {"ratio": 0.5, "min_per_second": 3, "ttl": 2}, "breaker": {"failure_threshold": 2, "open_for": 1}}"#,
            r#"{"budget": null, "jitter": "decorrelated", "retry_statuses": [503]}"#,
        ] {
            let policy = Policy::from_json(text).unwrap();
            let json = policy.to_json();
            assert_eq!(Policy::from_json(&json).unwrap().to_json(), json, "{text}");
        }
        let json = Policy::preset("default").unwrap().to_json();
        assert!(
            json.contains(r#""budget":"shared""#) && !json.contains("seed"),
            "{json}"
        );
    }

    #[test]
    fn upward_jitter_is_client_gos() {
        let source: crate::RandomSource = Arc::new(|| 0.25);
        let policy = PolicyBuilder::from_json(
            r#"{"initial_delay": 10, "max_delay": 100, "jitter": {"upward": 0.5}}"#,
        )
        .unwrap()
        .random(Some(source))
        .build()
        .unwrap();
        let delay = policy.backoff().delay(1, None, policy.rng());
        assert!((delay - 11.25).abs() < 1e-9, "{delay}");
        assert!(Policy::from_json(r#"{"jitter": {"upward": -1}}"#).is_err());
    }
    use crate::policy::Policy;

    #[test]
    fn unknown_keys_are_named() {
        let err = Policy::from_json(r#"{"max_retrys": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_retrys"), "{err}");
    }

    #[test]
    fn wrong_types_and_ranges_are_errors() {
        for bad in [
            r#"{"max_retries": -1}"#,
            r#"{"max_delay": "soon"}"#,
            r#"{"jitter": "wild"}"#,
            r#"{"jitter": 1.5}"#,
            r#"{"budget": {"ratio": -1}}"#,
            r#"{"budget": {"ratios": 1}}"#,
            r#"{"breaker": {"failure_threshold": 0}}"#,
            r#"{"preset": "fast"}"#,
            r#"{"jitter": {"proportional": 0.3, "x": 1}}"#,
            r#"{"deadline": 1e-300}"#,
            r#"{"not_sent_codes": ["ECONNRESET"]}"#,
            r#"{"budget": {"ratio": 0.5, "burst": 0.1}}"#,
            r#"{"retry_after_spread": 1.5}"#,
            r#"{"budget": {"min_per_episode": 10001}}"#,
            r#"{"retry_after_spread": -0.1}"#,
            r#"[]"#,
            "",
        ] {
            assert!(Policy::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_override_the_preset() {
        let p =
            Policy::from_json(r#"{"preset":"read","max_retries":7,"budget":null,"deadline":12}"#)
                .unwrap();
        assert_eq!(p.name(), "read");
        assert_eq!(p.max_retries(), 7);
        assert!(p.budget().is_none());
        assert_eq!(p.deadline(), Some(std::time::Duration::from_secs(12)));
    }
}

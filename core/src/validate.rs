//! Validation: every value of a [`PolicyBuilder`] in range before a policy is built, each error
//! naming its field.

use std::time::Duration;

use crate::builder::{Checked, PolicyBuilder};
use crate::delay::Jitter;
use crate::error::{PolicyError, invalid};
use crate::failure::HTTP_STATUSES;

impl PolicyBuilder {
    /// Checks every value, in a fixed order (the first error is returned).
    pub(crate) fn check(&self) -> Result<Checked, PolicyError> {
        const MAX_SECONDS: f64 = 86_400.0 * 365.0;
        let seconds = |field: &'static str, v: f64| -> Result<Duration, PolicyError> {
            if !(0.0..=MAX_SECONDS).contains(&v) {
                return Err(invalid(
                    field,
                    format!("must be between 0 and {MAX_SECONDS} seconds, got {v}"),
                ));
            }
            Ok(Duration::from_secs_f64(v))
        };
        if self.max_retries > 10_000 {
            return Err(invalid(
                "max_retries",
                format!("must be at most 10000, got {}", self.max_retries),
            ));
        }
        let initial_delay = seconds("initial_delay", self.initial_delay)?;
        let max_delay = seconds("max_delay", self.max_delay)?;
        if !(1.0..=1000.0).contains(&self.exponential_base) {
            return Err(invalid(
                "exponential_base",
                format!("must be between 1 and 1000, got {}", self.exponential_base),
            ));
        }
        if let Jitter::Proportional(s) = self.jitter
            && !(0.0..=1.0).contains(&s)
        {
            return Err(invalid(
                "jitter",
                format!("proportional jitter must be between 0 and 1, got {s}"),
            ));
        }
        if let Jitter::Upward(s) = self.jitter
            && !(0.0..=1000.0).contains(&s)
        {
            return Err(invalid(
                "jitter",
                format!("upward jitter must be between 0 and 1000, got {s}"),
            ));
        }
        let retry_after_cap = seconds("retry_after_cap", self.retry_after_cap)?;
        if !(0.0..=1.0).contains(&self.retry_after_spread) {
            return Err(invalid(
                "retry_after_spread",
                format!("must be between 0 and 1, got {}", self.retry_after_spread),
            ));
        }
        let deadline = match self.deadline {
            // Below a millisecond a deadline rounds away to nothing (1e-300 was a 0 ns deadline).
            Some(d) if d >= 0.001 => Some(seconds("deadline", d)?),
            Some(d) => {
                return Err(invalid(
                    "deadline",
                    format!("must be at least 0.001 seconds, got {d}"),
                ));
            }
            None => None,
        };
        let classifier = &self.classifier;
        if let Some(both) = classifier
            .not_sent_codes
            .iter()
            .find(|c| classifier.ambiguous_codes.contains(c))
        {
            // A code in both sets would make an ambiguous failure look unsent, and a POST
            // would be resent after it.
            return Err(invalid(
                "not_sent_codes",
                format!("{both} is also in ambiguous_codes: a code is one or the other"),
            ));
        }
        for (field, statuses) in [
            ("retry_statuses", &self.classifier.retry_statuses),
            ("retry_after_statuses", &self.retry_after_statuses),
        ] {
            if let Some(bad) = statuses.iter().find(|s| !HTTP_STATUSES.contains(*s)) {
                return Err(invalid(
                    field,
                    format!("HTTP statuses are 100..=599, got {bad}"),
                ));
            }
        }
        Ok(Checked {
            initial_delay,
            max_delay,
            retry_after_cap,
            deadline,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::Policy;

    #[test]
    fn out_of_range_values_name_the_field() {
        let err = Policy::builder().max_delay(-1.0).build().unwrap_err();
        assert!(err.to_string().contains("max_delay"), "{err}");
        let err = Policy::builder()
            .exponential_base(f64::NAN)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("exponential_base"), "{err}");
        let err = Policy::builder()
            .retry_statuses(vec![99])
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("retry_statuses"), "{err}");
        let err = Policy::builder()
            .deadline(Some(1e-300))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("deadline"), "{err}");
        let err = Policy::builder()
            .not_sent_codes(["ECONNREFUSED", "econnreset"])
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("ECONNRESET"), "{err}");
    }
}

//! The circuit breakers that the `k8sretry_circuit_open` gauge reports, by policy name.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::breaker::CircuitBreaker;

/// (policy name, breaker), dropped breakers pruned at each registration.
type Breakers = Mutex<Vec<(String, Weak<CircuitBreaker>)>>;

fn breakers() -> &'static Breakers {
    static BREAKERS: OnceLock<Breakers> = OnceLock::new();
    BREAKERS.get_or_init(Mutex::default)
}

/// Registers a breaker for the `k8sretry_circuit_open` gauge under `name`.
pub(crate) fn register_breaker(name: &str, breaker: &Arc<CircuitBreaker>) {
    let mut breakers = breakers().lock().unwrap_or_else(|p| p.into_inner());
    breakers.retain(|(_, weak)| weak.strong_count() > 0);
    breakers.push((name.to_owned(), Arc::downgrade(breaker)));
}

/// (breaker name, 1 while open), one line per name: open if any live breaker of that name is.
pub(crate) fn open_circuits() -> Vec<(String, u8)> {
    let breakers = breakers().lock().unwrap_or_else(|p| p.into_inner());
    let mut open: BTreeMap<&str, u8> = BTreeMap::new();
    for (name, weak) in breakers.iter() {
        if let Some(b) = weak.upgrade() {
            let v = open.entry(name).or_insert(0);
            *v = (*v).max(u8::from(b.is_open()));
        }
    }
    open.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

//! Empty: the end-to-end test is tests/kube_e2e.rs.

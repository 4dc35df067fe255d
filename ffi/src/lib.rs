//! The C ABI of k8sretry (`libk8sretry`). The generated header is `include/k8sretry.h`;
//! its first comment states the conventions every function here keeps.
#![allow(non_camel_case_types)]
#![deny(missing_docs)]

mod call;
mod events;
mod failure;
mod guard;
mod misc;
mod names;
mod plan;
mod policy;
mod status;
mod types;

pub use call::*;
pub use events::*;
pub use failure::*;
pub use misc::*;
pub use names::*;
pub use plan::*;
pub use policy::*;
pub use status::*;
pub use types::*;

/// Major version of the library this header belongs to.
pub const K8SRETRY_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const K8SRETRY_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const K8SRETRY_VERSION_PATCH: u32 = 0;

#[cfg(test)]
mod tests {
    /// The committed header's version macros must be Cargo's version.
    #[test]
    fn header_version_matches_cargo() {
        let header = include_str!("../../include/k8sretry.h");
        let define = |name: &str| {
            let prefix = format!("#define {name} ");
            let line = header
                .lines()
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("{name} missing"));
            line[prefix.len()..].trim().trim_matches('"').to_owned()
        };
        assert_eq!(define("K8SRETRY_VERSION_STRING"), env!("CARGO_PKG_VERSION"));
        assert_eq!(
            define("K8SRETRY_VERSION_MAJOR"),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            define("K8SRETRY_VERSION_MINOR"),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            define("K8SRETRY_VERSION_PATCH"),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        assert_eq!(
            super::K8SRETRY_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
    }
}

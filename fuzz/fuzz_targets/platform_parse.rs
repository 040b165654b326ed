//! Any string: platform parsing never panics, and what it accepts formats
//! to a string that parses back to the same normalized platform.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocifit_core::platform::{Platform, PlatformDefaults};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let defaults = PlatformDefaults { os: "linux".into(), architecture: "amd64".into(), variant: String::new() };
    let Ok(p) = Platform::parse(text, &defaults) else { return };
    let normalized = p.normalized();
    let again = Platform::parse(&normalized.to_string(), &defaults);
    if let Ok(again) = again {
        assert_eq!(again.normalized(), normalized, "{text:?} -> {normalized} -> {again:?}");
    }
});

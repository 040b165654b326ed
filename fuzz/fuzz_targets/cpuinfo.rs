//! Any bytes as a /proc/cpuinfo capture: never panics; a profile it
//! produces is a valid target (its JSON names only canonical features).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for arch in [None, Some("amd64"), Some("arm64"), Some("riscv64")] {
        if let Ok(profile) = ocifit_host::from_cpuinfo(&text, arch) {
            let json = profile.target.to_json();
            assert!(json["features"].is_array());
        }
    }
});

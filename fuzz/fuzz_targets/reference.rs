//! Any string as an image reference or a digest: never panics; what parses
//! prints back to something that parses to the same reference.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocifit_source::{Digest, Reference};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(r) = Reference::parse(text) {
        let again = Reference::parse(&r.to_string()).expect("a printed reference parses");
        assert_eq!(again, r);
    }
    if let Ok(d) = Digest::parse(text) {
        assert_eq!(d.to_string(), text);
    }
});

//! Content digests (`algorithm:hex`), validated before any use.
//!
//! A digest names a blob in an OCI layout and a manifest in a registry, so
//! it ends up in file paths and URLs. [`Digest::parse`] accepts only the
//! two registered algorithms with exactly the right number of lowercase hex
//! digits: `sha256:` + 64, `sha512:` + 128. Anything else — `../`, a wrong
//! length, uppercase, an unknown algorithm — is an error, never a path.

use std::fmt;

use sha2::{Digest as _, Sha256, Sha512};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated digest. `Display` gives the canonical `algorithm:hex`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Check `text` and keep it; the error says what is wrong, in words.
    pub fn parse(text: &str) -> Result<Digest, String> {
        let Some((alg, hex)) = text.split_once(':') else {
            return Err(format!("{:?} is not a digest (algorithm:hex)", shorten(text)));
        };
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(format!("{:?}: unsupported digest algorithm {:?}", shorten(text), shorten(alg))),
        };
        if hex.len() != algorithm.hex_len() || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(format!(
                "{:?} is not a valid {alg} digest ({} lowercase hex digits)",
                shorten(text),
                algorithm.hex_len()
            ));
        }
        Ok(Digest { algorithm, hex: hex.to_string() })
    }

    /// The digest of `bytes` with `algorithm`.
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let hex = match algorithm {
            Algorithm::Sha256 => to_hex(&Sha256::digest(bytes)),
            Algorithm::Sha512 => to_hex(&Sha512::digest(bytes)),
        };
        Digest { algorithm, hex }
    }

    /// `sha256` of `bytes`, the algorithm registries use.
    pub fn sha256(bytes: &[u8]) -> Digest {
        Digest::of(Algorithm::Sha256, bytes)
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex part: safe as a single file name component.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Whether `bytes` hash to this digest.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Digest::of(self.algorithm, bytes) == *self
    }

    /// `Ok` when `bytes` hash to this digest; otherwise the message names both.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), String> {
        let actual = Digest::of(self.algorithm, bytes);
        if actual == *self { Ok(()) } else { Err(format!("content digest {actual} does not match expected {self}")) }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// Error messages quote input; keep hostile input short.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut cut = MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY256: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn valid_digests_round_trip() {
        let d = Digest::parse(EMPTY256).unwrap();
        assert_eq!(d.to_string(), EMPTY256);
        assert_eq!(d, Digest::sha256(b""));
        assert!(d.matches(b""));
        let d512 = Digest::of(Algorithm::Sha512, b"abc");
        assert_eq!(Digest::parse(&d512.to_string()).unwrap(), d512);
        assert_eq!(d512.hex().len(), 128);
    }

    #[test]
    fn anything_else_is_an_error_never_a_path() {
        let hex64 = &EMPTY256[7..];
        let bad = [
            String::new(),
            "sha256".into(),
            format!("sha256:{}", &hex64[..63]),
            format!("sha256:{hex64}0"),
            format!("sha256:{}", hex64.to_uppercase()),
            format!("SHA256:{hex64}"),
            format!("md5:{hex64}"),
            "sha256:../../../../etc/passwd".into(),
            format!("sha256:../{}", &hex64[3..]),
            format!("sha256:{}/x", &hex64[..62]),
            format!("sha512:{hex64}"),
            format!("sha256:{}\n", &hex64[..63]),
            format!("sha256+b64u:{hex64}"),
        ];
        for text in bad {
            assert!(Digest::parse(&text).is_err(), "{text:?} must be rejected");
        }
    }

    #[test]
    fn verify_names_both_digests() {
        let d = Digest::parse(EMPTY256).unwrap();
        let err = d.verify(b"x").unwrap_err();
        assert!(err.contains(EMPTY256) && err.contains(&Digest::sha256(b"x").to_string()), "{err}");
    }
}

//! Windows `os.version` (§4.4, §5.2): containerd's host/container
//! compatibility rule, with versions compared as numbers.

use std::cmp::Ordering;

/// Windows Server 2022: from this build on, a host runs containers of
/// builds between the last LTSC before it and itself.
const LTSC2022: u64 = 20348;
/// LTSC builds that start a compatibility window, ascending.
const LTSC_RELEASES: &[u64] = &[LTSC2022, 26100];

/// `major.minor.build[.revision]`, each part a number; missing parts are 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct WindowsVersion {
    pub major: u64,
    pub minor: u64,
    pub build: u64,
    pub revision: u64,
}

impl WindowsVersion {
    /// Leading numeric dot-separated parts; the first non-number ends the
    /// version (`10.0.17763+build.42` reads as 10.0.17763), as containerd does.
    pub fn parse(s: &str) -> WindowsVersion {
        let mut parts = [0u64; 4];
        for (slot, part) in parts.iter_mut().zip(s.split('.')) {
            let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
            match digits.parse() {
                Ok(n) => *slot = n,
                Err(_) => break,
            }
            if digits.len() != part.len() {
                break;
            }
        }
        WindowsVersion { major: parts[0], minor: parts[1], build: parts[2], revision: parts[3] }
    }
}

/// Whether a Windows host of version `host` runs a container image of `image`.
pub fn host_runs(host: &str, image: &str) -> bool {
    let (h, c) = (WindowsVersion::parse(host), WindowsVersion::parse(image));
    if h.major != c.major || h.minor != c.minor {
        return false;
    }
    if h.build < LTSC2022 {
        return h.build == c.build;
    }
    let oldest = LTSC_RELEASES.iter().rev().find(|ltsc| h.build > **ltsc).copied().unwrap_or(LTSC2022);
    oldest <= c.build && c.build <= h.build
}

/// Compare two `os.version` strings as numbers; an absent version is lowest.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => WindowsVersion::parse(a).cmp(&WindowsVersion::parse(b)),
    }
}

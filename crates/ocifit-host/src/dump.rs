//! CPUID dumps: what `ocifit host --dump-cpuid` writes and `--cpuid FILE`
//! replays through the same detection code as the live CPU.
//!
//! # The format
//!
//! Text, one record per line; `#` starts a comment; numbers are hexadecimal
//! (an optional `0x` is accepted):
//!
//! ```text
//! # ocifit cpuid dump 1
//! arch amd64
//! cpuid 00000000 00000000 00000014 756e6547 6c65746e 49656e69
//! cpuid 00000001 00000000 000906ea 00100800 7ffafbff bfebfbff
//! xcr0 00000000000000e7
//! ```
//!
//! - `cpuid LEAF SUBLEAF EAX EBX ECX EDX`: one CPUID result;
//! - `xcr0 VALUE`: XCR0 as XGETBV(0) returned it; absent when the CPU or the
//!   OS has no OSXSAVE;
//! - `osgate NAME 0|1`: what the OS said about a feature CPUID cannot show
//!   the OS enabled (`user_shstk`, `sgx`: [`crate::x86::OS_GATED`]); a gate
//!   not listed is closed;
//! - `arch amd64|386`, `os NAME`: optional; the architecture otherwise follows
//!   the long-mode bit (CPUID.80000001h:EDX[29]) and the OS is this machine's.
//!
//! Leaves not listed read as zero, so a hand-written dump needs only the
//! leaves it is about.
//!
//! archspec's CSV captures (`input_eax, input_ecx, eax, ebx, ecx, edx` in
//! decimal, one row per line) are read too. They carry no XCR0: when the
//! OS set OSXSAVE, XCR0 is then assumed to enable every state component the
//! CPU enumerates in CPUID.0Dh.0 (EDX:EAX), or all of them when that leaf
//! is missing — the profile says so in its notes.

use std::fmt::Write as _;

use crate::x86::{CpuidSource, OsGates, Snapshot};

/// A parsed dump; also a [`CpuidSource`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuidDump {
    pub leaves: Vec<((u32, u32), [u32; 4])>,
    /// XCR0 as recorded; `None` when the dump has none.
    pub xcr0: Option<u64>,
    pub arch: Option<String>,
    pub os: Option<String>,
    pub gates: OsGates,
    /// The input was archspec's CSV format.
    pub csv: bool,
}

/// A dump that cannot be read: the line number (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct DumpError {
    pub line: usize,
    pub problem: String,
}

fn hex32(s: &str) -> Option<u32> {
    u32::from_str_radix(s.trim_start_matches("0x").trim_start_matches("0X"), 16).ok()
}

fn num32(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

impl CpuidDump {
    /// Parse the ocifit format or archspec's CSV.
    pub fn parse(text: &str) -> Result<CpuidDump, DumpError> {
        let mut dump = CpuidDump::default();
        for (i, raw) in text.lines().enumerate() {
            let err = |problem: &str| DumpError { line: i + 1, problem: problem.into() };
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if line.contains(',') {
                let fields: Vec<&str> = line.split(',').map(str::trim).collect();
                let nums: Option<Vec<u32>> = fields.iter().map(|f| num32(f)).collect();
                match nums {
                    Some(n) if n.len() == 6 => {
                        dump.csv = true;
                        dump.leaves.push(((n[0], n[1]), [n[2], n[3], n[4], n[5]]));
                    }
                    _ => {
                        return Err(err(
                            "expected 6 comma-separated numbers: input_eax, input_ecx, eax, ebx, ecx, edx",
                        ));
                    }
                }
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["cpuid", rest @ ..] => {
                    let nums: Option<Vec<u32>> = rest.iter().map(|w| hex32(w)).collect();
                    match nums {
                        Some(n) if n.len() == 6 => dump.leaves.push(((n[0], n[1]), [n[2], n[3], n[4], n[5]])),
                        _ => return Err(err("expected `cpuid LEAF SUBLEAF EAX EBX ECX EDX` in hexadecimal")),
                    }
                }
                ["xcr0", value] => {
                    let v = u64::from_str_radix(value.trim_start_matches("0x"), 16)
                        .map_err(|_| err("expected `xcr0 VALUE` in hexadecimal"))?;
                    dump.xcr0 = Some(v);
                }
                ["arch", a] if matches!(*a, "amd64" | "386") => dump.arch = Some((*a).into()),
                ["arch", _] => return Err(err("`arch` must be amd64 or 386")),
                ["os", o] => dump.os = Some((*o).into()),
                ["osgate", name, v @ ("0" | "1")] => match *name {
                    "user_shstk" => dump.gates.user_shstk = *v == "1",
                    "sgx" => dump.gates.sgx = *v == "1",
                    _ => return Err(err("unknown `osgate` name (known: user_shstk, sgx)")),
                },
                _ => return Err(err("expected a `cpuid`, `xcr0`, `osgate`, `arch` or `os` record")),
            }
        }
        if dump.leaves.is_empty() {
            return Err(DumpError { line: 0, problem: "no CPUID leaves".into() });
        }
        Ok(dump)
    }

    /// The dump of what detection read.
    pub fn from_snapshot(s: &Snapshot, gates: OsGates, arch: &str, os: &str) -> CpuidDump {
        CpuidDump {
            gates,
            leaves: s.leaves().to_vec(),
            xcr0: s.osxsave.then_some(s.xcr0),
            arch: Some(arch.into()),
            os: Some(os.into()),
            csv: false,
        }
    }

    /// The ocifit text format.
    pub fn to_text(&self) -> String {
        let mut out = String::from(
            "# ocifit cpuid dump 1\n\
             # Written by `ocifit host --dump-cpuid`; replay with `ocifit host --cpuid FILE`.\n\
             # cpuid LEAF SUBLEAF EAX EBX ECX EDX, xcr0 VALUE (hexadecimal); unlisted leaves read as zero.\n",
        );
        if let Some(os) = &self.os {
            let _ = writeln!(out, "os {os}");
        }
        if let Some(arch) = &self.arch {
            let _ = writeln!(out, "arch {arch}");
        }
        let mut seen = Vec::new();
        for ((leaf, sub), r) in &self.leaves {
            if seen.contains(&(leaf, sub)) {
                continue;
            }
            seen.push((leaf, sub));
            let _ = writeln!(out, "cpuid {leaf:08x} {sub:08x} {:08x} {:08x} {:08x} {:08x}", r[0], r[1], r[2], r[3]);
        }
        if let Some(x) = self.xcr0 {
            let _ = writeln!(out, "xcr0 {x:016x}");
        }
        let _ = writeln!(out, "osgate user_shstk {}", u8::from(self.gates.user_shstk));
        let _ = writeln!(out, "osgate sgx {}", u8::from(self.gates.sgx));
        out
    }

    /// The XCR0 replay uses, and whether it was assumed rather than recorded.
    pub fn effective_xcr0(&self) -> (u64, bool) {
        match self.xcr0 {
            Some(x) => (x, false),
            None => match self.lookup(0xd, 0) {
                Some(r) if r[0] != 0 => (u64::from(r[0]) | u64::from(r[3]) << 32, true),
                _ => (u64::MAX, true),
            },
        }
    }

    fn lookup(&self, leaf: u32, subleaf: u32) -> Option<[u32; 4]> {
        self.leaves.iter().find(|(k, _)| *k == (leaf, subleaf)).map(|(_, r)| *r)
    }
}

impl CpuidSource for CpuidDump {
    fn cpuid(&mut self, leaf: u32, subleaf: u32) -> [u32; 4] {
        self.lookup(leaf, subleaf).unwrap_or_default()
    }

    fn xgetbv0(&mut self) -> u64 {
        self.effective_xcr0().0
    }
}

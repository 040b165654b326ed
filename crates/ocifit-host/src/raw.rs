//! The only module of ocifit with `unsafe`: the machine instructions and
//! system interfaces that read what this CPU and OS support. Each function
//! returns plain numbers; every interpretation happens in safe code
//! (`x86.rs`, `hwcap.rs`).
//!
//! - x86: `CPUID` and `XGETBV` ([`LiveCpuid`]);
//! - Linux: `getauxval(AT_HWCAP/AT_HWCAP2/AT_HWCAP3/AT_PLATFORM)` and, on
//!   riscv64, the `riscv_hwprobe` system call ([`read_hwcaps`]).

#![allow(unsafe_code)]

/// CPUID and XGETBV of the CPU this process runs on.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[derive(Debug, Default, Clone, Copy)]
pub struct LiveCpuid;

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
impl crate::x86::CpuidSource for LiveCpuid {
    fn cpuid(&mut self, leaf: u32, subleaf: u32) -> [u32; 4] {
        #[cfg(target_arch = "x86")]
        use core::arch::x86::__cpuid_count;
        #[cfg(target_arch = "x86_64")]
        use core::arch::x86_64::__cpuid_count;
        // SAFETY: CPUID exists on every x86-64 CPU and on every x86 CPU Rust's
        // i586/i686 targets run on; it reads identification registers only and
        // has no side effect on memory. Out-of-range leaves are never asked for:
        // `x86::Snapshot` checks the maximum basic/extended leaf first.
        #[allow(unused_unsafe)]
        let r = unsafe { __cpuid_count(leaf, subleaf) };
        [r.eax, r.ebx, r.ecx, r.edx]
    }

    fn xgetbv0(&mut self) -> u64 {
        // SAFETY: only called by `x86::Snapshot` after CPUID.1:ECX.OSXSAVE[27]
        // was seen set, which is the architectural condition for XGETBV not to
        // raise #UD; XCR0 (ECX = 0) always exists then. Reads a register only.
        unsafe { xgetbv0() }
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "xsave")]
unsafe fn xgetbv0() -> u64 {
    #[cfg(target_arch = "x86")]
    use core::arch::x86::_xgetbv;
    #[cfg(target_arch = "x86_64")]
    use core::arch::x86_64::_xgetbv;
    // SAFETY: see the caller; the `xsave` target feature is guaranteed by OSXSAVE.
    unsafe { _xgetbv(0) }
}

/// Whether the Linux kernel supports CET user shadow stacks: it knows
/// `arch_prctl(ARCH_SHSTK_STATUS)` (kernels without user shadow-stack
/// support answer EINVAL). Only asked when the CPU has CET_SS.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub fn kernel_has_user_shstk() -> bool {
    const ARCH_SHSTK_STATUS: libc::c_long = 0x5005;
    let mut features: u64 = 0;
    // SAFETY: arch_prctl(ARCH_SHSTK_STATUS, addr) only writes one unsigned
    // long (the thread's enabled shadow-stack features) to `addr`, which
    // points to a live, writable u64; it changes no process state.
    let rc = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_SHSTK_STATUS, &mut features as *mut u64) };
    rc == 0
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub fn kernel_has_user_shstk() -> bool {
    false
}

/// What Linux tells a process about its CPU in the auxiliary vector (and,
/// on riscv64, through `riscv_hwprobe`).
/// (Compiled on x86 Linux too, where only a test uses it.)
#[cfg(any(target_os = "linux", target_os = "android"))]
#[cfg_attr(any(target_arch = "x86", target_arch = "x86_64"), allow(dead_code))]
pub fn read_hwcaps(hwprobe_keys: &[u32]) -> crate::hwcap::Hwcaps {
    const AT_HWCAP: libc::c_ulong = 16;
    const AT_PLATFORM: libc::c_ulong = 15;
    const AT_HWCAP2: libc::c_ulong = 26;
    const AT_HWCAP3: libc::c_ulong = 29;
    // SAFETY: getauxval only reads the process's auxiliary vector; for a type
    // the kernel did not pass it returns 0 (and sets errno), never fails otherwise.
    let word = |t: libc::c_ulong| unsafe { libc::getauxval(t) } as u64;
    let hwcap = [word(AT_HWCAP), word(AT_HWCAP2), word(AT_HWCAP3)];
    // SAFETY: as above; AT_PLATFORM's value is 0 or the address of a
    // NUL-terminated string the kernel placed on the initial stack, which lives
    // as long as the process and is never written.
    let platform = unsafe {
        let p = libc::getauxval(AT_PLATFORM) as *const libc::c_char;
        (!p.is_null()).then(|| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned())
    };
    crate::hwcap::Hwcaps { hwcap, platform, hwprobe: hwprobe(hwprobe_keys) }
}

/// `riscv_hwprobe(2)` for `keys`: the (key, value) pairs the kernel knows
/// (a key it does not know comes back as -1 and is left out).
#[cfg(all(target_os = "linux", target_arch = "riscv64"))]
fn hwprobe(keys: &[u32]) -> Vec<(u32, u64)> {
    #[repr(C)]
    struct Pair {
        key: i64,
        value: u64,
    }
    const SYS_RISCV_HWPROBE: libc::c_long = 258;
    let mut pairs: Vec<Pair> = keys.iter().map(|k| Pair { key: i64::from(*k), value: 0 }).collect();
    // SAFETY: the kernel writes `pairs.len()` elements of the C layout
    // `struct riscv_hwprobe { __s64 key; __u64 value; }` that `Pair` repeats;
    // cpusetsize 0 with a NULL cpu set means "all online CPUs"; flags 0.
    let rc = unsafe {
        libc::syscall(SYS_RISCV_HWPROBE, pairs.as_mut_ptr(), pairs.len(), 0usize, std::ptr::null_mut::<u8>(), 0u32)
    };
    if rc != 0 {
        return Vec::new(); // kernel older than 6.4: no hwprobe, AT_HWCAP only
    }
    pairs.into_iter().filter(|p| p.key >= 0).map(|p| (p.key as u32, p.value)).collect()
}

#[cfg(all(any(target_os = "linux", target_os = "android"), not(target_arch = "riscv64")))]
#[cfg_attr(any(target_arch = "x86", target_arch = "x86_64"), allow(dead_code))]
fn hwprobe(_keys: &[u32]) -> Vec<(u32, u64)> {
    Vec::new()
}

#[cfg(all(test, target_os = "linux", any(target_arch = "x86", target_arch = "x86_64")))]
mod tests {
    /// The getauxval reader agrees with the kernel's own copy of the
    /// auxiliary vector in /proc/self/auxv. (AT_HWCAP itself is not
    /// compared: glibc replaces it with its own platform bits on x86.)
    #[test]
    fn auxv_reader_matches_proc_self_auxv() {
        let caps = super::read_hwcaps(&[]);
        let bytes = std::fs::read("/proc/self/auxv").unwrap();
        let words: Vec<u64> = bytes.chunks_exact(8).map(|c| u64::from_ne_bytes(c.try_into().unwrap())).collect();
        let kernel = |t: u64| words.chunks_exact(2).find(|p| p[0] == t).map_or(0, |p| p[1]);
        assert_eq!(caps.hwcap[1], kernel(26), "AT_HWCAP2");
        assert_eq!(caps.hwcap[2], kernel(29), "AT_HWCAP3");
        assert_eq!(caps.platform.as_deref(), Some(if cfg!(target_arch = "x86_64") { "x86_64" } else { "i686" }));
    }
}

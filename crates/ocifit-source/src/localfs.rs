//! Local files, opened and replaced without trusting what else is in the
//! directory (docs/security.md "Layouts and local files").
//!
//! A [`Dir`] is a directory opened once; every file below it is reached
//! through that descriptor one component at a time, so nothing planted in
//! it (a symbolic link, a FIFO, a device, a file swapped in after a check)
//! can send a read or a write elsewhere:
//!
//! - [`Dir::subdir`] and [`Dir::open_regular`] follow no symbolic link and
//!   open nothing but directories and regular files; a FIFO is opened with
//!   `O_NONBLOCK`, so it cannot hang the open, and refused after `fstat`;
//! - [`Dir::replace`] is the one "atomic replace of a file": a temporary
//!   file with an unpredictable name, created with `O_EXCL | O_NOFOLLOW`,
//!   written, given the old file's owner and mode, `fsync`ed, renamed over
//!   the name, and the directory `fsync`ed. [`replace_file`] is the same for
//!   a path the user named (`-o FILE`).
//! - [`Dir::lock`] is an exclusive `flock` on a lock file in the directory.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, ErrorKind};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{self as rfs, AtFlags, FileType, FlockOperation, Mode, OFlags, Stat};
use rustix::io::Errno;

/// A directory, opened once.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

/// Flags every open here carries: no controlling terminal, closed on exec.
const ALWAYS: OFlags = OFlags::CLOEXEC.union(OFlags::NOCTTY);

impl Dir {
    /// The directory a user named. Symbolic links in `path` are followed:
    /// the user chose it; what is inside it is another matter.
    pub fn open(path: &Path) -> io::Result<Dir> {
        let fd = rfs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | ALWAYS, Mode::empty())?;
        Ok(Dir { fd })
    }

    /// `name`, a directory in this one, itself and not a symbolic link.
    pub fn subdir(&self, name: &str) -> io::Result<Dir> {
        match rfs::openat(&self.fd, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | ALWAYS, Mode::empty())
        {
            Ok(fd) => Ok(Dir { fd }),
            Err(e) => Err(self.refusal(name, e)),
        }
    }

    /// [`Dir::subdir`], created (mode 0777 less the umask) when missing.
    pub fn subdir_or_create(&self, name: &str) -> io::Result<Dir> {
        match rfs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o777)) {
            Ok(()) | Err(Errno::EXIST) => self.subdir(name),
            Err(e) => Err(e.into()),
        }
    }

    /// `name` opened for reading, if it is a regular file in this directory
    /// (not a symbolic link, FIFO, device, socket or directory), with its
    /// size as `fstat` reports it.
    pub fn open_regular(&self, name: &str) -> io::Result<(File, u64)> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | ALWAYS;
        let fd = rfs::openat(&self.fd, name, flags, Mode::empty()).map_err(|e| self.refusal(name, e))?;
        let stat = rfs::fstat(&fd)?;
        regular(&stat)?;
        Ok((File::from(fd), stat.st_size as u64))
    }

    /// Hold an exclusive `flock` on the regular file `name` (created, mode
    /// 0644 less the umask, when missing), waiting at most `wait` for
    /// another holder. The lock lasts as long as the returned file is open.
    pub fn lock(&self, name: &str, wait: Duration) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | ALWAYS;
        let fd = rfs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o644)).map_err(|e| self.refusal(name, e))?;
        regular(&rfs::fstat(&fd)?)?;
        let start = Instant::now();
        loop {
            match rfs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(File::from(fd)),
                Err(Errno::WOULDBLOCK | Errno::INTR) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(Errno::WOULDBLOCK) => {
                    return Err(io::Error::new(
                        ErrorKind::WouldBlock,
                        format!("another process has held the lock for more than {} s", wait.as_secs()),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Replace `name` with `bytes` atomically: a temporary file in this
    /// directory (unpredictable name, `O_EXCL | O_NOFOLLOW`), written, given
    /// the owner (uid and gid) and mode of the regular file it replaces when
    /// `keep_owner_and_mode`, flushed, `before_commit` (tests make it fail,
    /// as a crash would), renamed over `name`, and the directory flushed. On
    /// any failure the temporary file is removed and `name` is untouched.
    /// Whatever `name` was (a symbolic link, a FIFO), the new file replaces
    /// the directory entry; nothing it pointed at is opened.
    pub fn replace(
        &self,
        name: impl AsRef<OsStr>,
        bytes: &[u8],
        keep_owner_and_mode: bool,
        before_commit: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<()> {
        within_file_size_limit(bytes.len())?;
        self.replace_with(name, keep_owner_and_mode, &mut |file| std::io::Write::write_all(file, bytes), before_commit)
    }

    /// [`Dir::replace`] with the content written by `write` (a stream, such
    /// as a blob copied while its digest is checked: an error from `write`
    /// leaves `name` untouched).
    pub fn replace_with(
        &self,
        name: impl AsRef<OsStr>,
        keep_owner_and_mode: bool,
        write: &mut dyn FnMut(&mut File) -> io::Result<()>,
        before_commit: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<()> {
        let name = name.as_ref();
        let old = match rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => {
                return Err(refused("is a directory"));
            }
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile => Some(stat),
            _ => None,
        };
        let (temp, file) = self.create_temporary(if keep_owner_and_mode && old.is_some() { 0o600 } else { 0o666 })?;
        let result = (|| {
            let mut file = file;
            write(&mut file)?;
            if let Some(old) = old.as_ref().filter(|_| keep_owner_and_mode) {
                keep_owner_and_mode_of(&file, old)?;
            }
            file.sync_all()?;
            drop(file);
            before_commit()?;
            rfs::renameat(&self.fd, &temp, &self.fd, name)?;
            rfs::fsync(&self.fd)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = rfs::unlinkat(&self.fd, &temp, AtFlags::empty());
        }
        result
    }

    /// A new file `.ocifit-RANDOM.tmp`: 128 random bits from the kernel, so
    /// no one can plant anything at its name in advance, and `O_EXCL`, so
    /// nothing already there is ever opened.
    fn create_temporary(&self, mode: u32) -> io::Result<(String, File)> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | ALWAYS;
        loop {
            let mut random = [0u8; 16];
            let filled = rustix::rand::getrandom(&mut random, rustix::rand::GetRandomFlags::empty())?;
            if filled != random.len() {
                continue;
            }
            let name = format!(".ocifit-{}.tmp", random.iter().map(|b| format!("{b:02x}")).collect::<String>());
            match rfs::openat(&self.fd, name.as_str(), flags, Mode::from_raw_mode(mode)) {
                Ok(fd) => return Ok((name, File::from(fd))),
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Why `name` could not be opened: a symbolic link is named as such
    /// (`O_NOFOLLOW` reports it as ELOOP or ENOTDIR), without looking at
    /// what it points to.
    fn refusal(&self, name: &str, e: Errno) -> io::Error {
        if !matches!(e, Errno::LOOP | Errno::NOTDIR | Errno::MLINK) {
            return e.into();
        }
        match rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW).map(|s| FileType::from_raw_mode(s.st_mode)) {
            Ok(FileType::Symlink) => refused("is a symbolic link (not followed)"),
            Ok(kind) if kind != FileType::Directory => refused(&format!("is {}, not a directory", kind_name(kind))),
            _ => e.into(),
        }
    }
}

/// Replace the file at `path` (a path the user named, such as `-o FILE`)
/// atomically, keeping the owner and mode of the file it replaces. When
/// `path` is a symbolic link, the file it points to is replaced, as a plain
/// write would have changed that file. A path that is (or leads to) no
/// regular file but a device, FIFO or socket (`-o /dev/stdout`,
/// `/dev/null`) is written to, never replaced.
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        use std::io::Write as _;
        return std::fs::OpenOptions::new().write(true).open(path)?.write_all(bytes);
    }
    let path: PathBuf = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(path)?,
        _ => path.to_path_buf(),
    };
    let name = path.file_name().ok_or_else(|| refused("names a directory, not a file"))?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Dir::open(dir)?.replace(name, bytes, true, &mut || Ok(()))
}

/// A refusal: its text says what was found (`ErrorKind::InvalidInput`).
fn refused(what: &str) -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, what.to_string())
}

fn regular(stat: &Stat) -> io::Result<()> {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => Ok(()),
        kind => Err(refused(&format!("is {}, not a regular file", kind_name(kind)))),
    }
}

fn kind_name(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "of an unknown type",
    }
}

/// The temporary file gets the replaced file's owner, then its mode (after
/// the owner: a `chown` clears set-id bits). A different owner that this
/// process may not give (not root) is an error: the file is not replaced
/// by one that belongs to someone else.
fn keep_owner_and_mode_of(file: &File, old: &Stat) -> io::Result<()> {
    let new = rfs::fstat(file)?;
    if (new.st_uid, new.st_gid) != (old.st_uid, old.st_gid) {
        rfs::fchown(file, Some(rfs::Uid::from_raw(old.st_uid)), Some(rfs::Gid::from_raw(old.st_gid))).map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("cannot keep its owner (uid {}, gid {}): {}", old.st_uid, old.st_gid, io::Error::from(e)),
            )
        })?;
    }
    rfs::fchmod(file, Mode::from_raw_mode(old.st_mode & 0o7777))?;
    Ok(())
}

/// `EFBIG` before writing when `len` bytes exceed the process's file size
/// limit (`ulimit -f`), which would otherwise kill the process (SIGXFSZ)
/// halfway through the temporary file.
fn within_file_size_limit(len: usize) -> io::Result<()> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Fsize).current;
    match limit {
        Some(limit) if len as u64 > limit => Err(io::Error::from(Errno::FBIG)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ocifit-localfs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn open_regular_refuses_what_is_not_a_regular_file() {
        let dir = scratch("kinds");
        std::fs::write(dir.join("outside"), b"12345").unwrap();
        std::os::unix::fs::symlink(dir.join("outside"), dir.join("link")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero")).unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(dir.join("fifo")).status().unwrap().success());
        let d = Dir::open(&dir).unwrap();
        let cases = [
            ("link", "is a symbolic link"),
            ("zero", "is a symbolic link"),
            ("fifo", "is a FIFO"),
            ("sub", "is a directory"),
        ];
        for (name, want) in cases {
            let e = d.open_regular(name).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{name}: {e}");
            assert!(e.to_string().contains(want), "{name}: {e}");
            assert!(!e.to_string().contains('5'), "{name}: says something about the target: {e}");
        }
        let (mut f, size) = d.open_regular("outside").unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!((s.as_str(), size), ("12345", 5));
        std::os::unix::fs::symlink(dir.join("sub"), dir.join("sublink")).unwrap();
        assert!(d.subdir("sublink").unwrap_err().to_string().contains("symbolic link"));
        assert!(d.subdir("sub").is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn replace_keeps_owner_and_mode_and_never_opens_what_was_there() {
        let dir = scratch("replace");
        let d = Dir::open(&dir).unwrap();
        // A regular file: its owner and mode stay.
        let file = dir.join("kept");
        std::fs::write(&file, b"old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::chown(&file, Some(1234), Some(5678)).expect("needs root (or CAP_CHOWN) to chown");
        d.replace("kept", b"new", true, &mut || Ok(())).unwrap();
        let meta = std::fs::symlink_metadata(&file).unwrap();
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (1234, 5678, 0o640));
        assert_eq!(std::fs::read(&file).unwrap(), b"new");
        // A symbolic link: replaced as an entry; its target untouched, its mode not taken.
        let target = dir.join("target");
        std::fs::write(&target, b"target").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o4751)).unwrap();
        std::os::unix::fs::symlink(&target, dir.join("link")).unwrap();
        d.replace("link", b"new", true, &mut || Ok(())).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"target");
        let meta = std::fs::symlink_metadata(dir.join("link")).unwrap();
        assert!(meta.file_type().is_file());
        assert_ne!(meta.mode() & 0o7777, 0o4751);
        // A failure before the rename leaves the old file and no temporary.
        let e = d.replace("kept", b"newer", true, &mut || Err(io::Error::other("crash"))).unwrap_err();
        assert_eq!(e.to_string(), "crash");
        assert_eq!(std::fs::read(&file).unwrap(), b"new");
        assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
        // A directory is never replaced.
        std::fs::create_dir(dir.join("sub")).unwrap();
        assert!(d.replace("sub", b"x", true, &mut || Ok(())).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `-o FILE` where FILE is a symbolic link the user made: the file it
    /// points to gets the content (as a plain write would have), the link
    /// stays a link.
    #[test]
    fn replace_file_through_a_link_the_user_named_replaces_its_target() {
        let dir = scratch("named-link");
        std::fs::create_dir(dir.join("real")).unwrap();
        std::fs::write(dir.join("real/index.json"), b"old").unwrap();
        std::os::unix::fs::symlink("real/index.json", dir.join("link.json")).unwrap();
        replace_file(&dir.join("link.json"), b"new").unwrap();
        assert!(std::fs::symlink_metadata(dir.join("link.json")).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(dir.join("real/index.json")).unwrap(), b"new");
        assert!(leftovers(&dir).is_empty() && leftovers(&dir.join("real")).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `-o` onto a device node (here a copy of `/dev/null`'s in a scratch
    /// directory) or a FIFO writes to it: it is never replaced by a file.
    #[test]
    fn replace_file_writes_to_devices_and_fifos_without_replacing_them() {
        let dir = scratch("devices");
        let null = dir.join("null");
        let made = std::process::Command::new("mknod").arg(&null).args(["c", "1", "3"]).status();
        assert!(made.unwrap().success(), "mknod (as root) makes the device node this test needs");
        replace_file(&null, b"into the void").unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&null).unwrap().file_type().is_char_device());
        let fifo = dir.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        replace_file(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        assert!(leftovers(&dir).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_stream_that_fails_leaves_the_old_file() {
        let dir = scratch("stream");
        let d = Dir::open(&dir).unwrap();
        std::fs::write(dir.join("blob"), b"old").unwrap();
        let e = d
            .replace_with(
                "blob",
                false,
                &mut |f| {
                    std::io::Write::write_all(f, b"half")?;
                    Err(io::Error::other("wrong digest"))
                },
                &mut || Ok(()),
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "wrong digest");
        assert_eq!(std::fs::read(dir.join("blob")).unwrap(), b"old");
        assert!(leftovers(&dir).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn temporary_names_are_unpredictable() {
        let dir = scratch("names");
        let d = Dir::open(&dir).unwrap();
        let names: std::collections::HashSet<String> = (0..50).map(|_| d.create_temporary(0o600).unwrap().0).collect();
        assert_eq!(names.len(), 50);
        assert!(names.iter().all(|n| n.len() == ".ocifit-.tmp".len() + 32), "{names:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_lock_is_exclusive_and_waits_a_bounded_time() {
        let dir = scratch("lock");
        let d = Dir::open(&dir).unwrap();
        let held = d.lock("l", Duration::from_secs(1)).unwrap();
        // A second open file description: flock locks conflict between them.
        let other = Dir::open(&dir).unwrap();
        let start = Instant::now();
        let e = other.lock("l", Duration::from_millis(200)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        assert!(start.elapsed() >= Duration::from_millis(200));
        drop(held);
        assert!(other.lock("l", Duration::from_millis(200)).is_ok());
        std::os::unix::fs::symlink("/tmp", dir.join("planted")).unwrap();
        assert!(d.lock("planted", Duration::ZERO).unwrap_err().to_string().contains("symbolic link"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

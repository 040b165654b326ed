//! OCI archives (`oci-archive:FILE[:TAG]`): an OCI image layout in one tar
//! file, as `podman save --format oci-archive`, `skopeo copy …
//! oci-archive:FILE`, `docker buildx build --output type=oci` and `docker
//! save` (Docker 25 and later) write it.
//!
//! Nothing is unpacked: one pass over the tar headers records where each
//! member's data starts (seeking over the data), then `oci-layout`,
//! `index.json` and the few blobs the layout rules need are read in place,
//! each bounded by the limit a layout file has. What is chosen and how is
//! the layout's rule ([`crate::layout`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ocifit_core::index::MAX_INDEX_BYTES;

use crate::layout::{self, Descriptor, LayoutIndex, OCI_LAYOUT_MAX_BYTES};

/// More members than any image archive has; past it the tar is refused
/// rather than indexed without bound.
pub const MAX_MEMBERS: usize = 1 << 20;

/// An archive's regular files: where each one's data is.
struct Members {
    file: File,
    /// Member name (without a leading `./`) → (data offset, size). A name
    /// given twice is the later one, as `tar -x` leaves it.
    at: HashMap<String, (u64, u64)>,
}

/// Read what `oci-archive:FILE[:TAG]` names.
pub fn read(path: &Path, tag: Option<&str>, max_blob: usize) -> Result<LayoutIndex, String> {
    let mut members = Members::open(path)?;
    let version = members.read("oci-layout", OCI_LAYOUT_MAX_BYTES).map_err(|e| {
        if e.ends_with("missing") {
            "not an OCI archive: it has no oci-layout member (a docker save archive from before Docker 25 is \
             docker-archive, which ocifit does not read)"
                .to_string()
        } else {
            e
        }
    })?;
    layout::check_layout_version(&version)?;
    let index = members.read("index.json", MAX_INDEX_BYTES)?;
    layout::resolve(index, tag, &mut |desc| members.blob(desc, max_blob))
}

impl Members {
    fn open(path: &Path) -> Result<Members, String> {
        // O_NONBLOCK: a FIFO named as the archive cannot hang the open; what
        // was opened is then checked (fstat), so nothing swapped in between
        // a check and the open is read.
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(path)
            .map_err(|e| io_problem(&e))?;
        let meta = file.metadata().map_err(|e| io_problem(&e))?;
        if meta.is_dir() {
            return Err("is a directory (for an OCI layout write oci:DIR)".into());
        }
        if !meta.is_file() {
            return Err("not a regular file (an OCI archive is a tar file)".into());
        }
        let mut magic = [0u8; 2];
        if file.read(&mut magic).map_err(|e| io_problem(&e))? == 2 && magic == [0x1f, 0x8b] {
            return Err("a gzip-compressed file: decompress it first (an OCI archive is a plain tar)".into());
        }
        file.rewind().map_err(|e| io_problem(&e))?;
        let mut at = HashMap::new();
        {
            let mut archive = tar::Archive::new(&file);
            let entries = archive.entries_with_seek().map_err(|e| format!("not a tar archive: {e}"))?;
            for entry in entries {
                let entry = entry.map_err(|e| format!("not a tar archive: {e}"))?;
                if !matches!(entry.header().entry_type(), tar::EntryType::Regular | tar::EntryType::Continuous) {
                    continue;
                }
                let name = entry.path_bytes();
                let Ok(name) = std::str::from_utf8(&name) else { continue };
                let name = name.trim_start_matches("./").to_string();
                at.insert(name, (entry.raw_file_position(), entry.size()));
                if at.len() > MAX_MEMBERS {
                    return Err(format!("more than {MAX_MEMBERS} members: not an image archive"));
                }
            }
        }
        Ok(Members { file, at })
    }

    /// A member's bytes, at most `max`.
    fn read(&mut self, name: &str, max: usize) -> Result<Vec<u8>, String> {
        let &(offset, size) = self.at.get(name).ok_or_else(|| format!("{name}: missing"))?;
        if size > max as u64 {
            return Err(format!("{name}: {size} bytes, more than the {max} bytes allowed"));
        }
        self.file.seek(SeekFrom::Start(offset)).map_err(|e| format!("{name}: cannot read: {e}"))?;
        let mut bytes = Vec::with_capacity(size as usize);
        (&self.file).take(size).read_to_end(&mut bytes).map_err(|e| format!("{name}: cannot read: {e}"))?;
        if bytes.len() as u64 != size {
            return Err(format!("{name}: the archive ends inside it"));
        }
        Ok(bytes)
    }

    /// `blobs/ALG/HEX`, checked against the descriptor's size and digest.
    fn blob(&mut self, desc: &Descriptor, max_blob: usize) -> Result<Vec<u8>, String> {
        let digest = &desc.digest;
        if desc.size > max_blob as u64 {
            return Err(format!("blob {digest} is {} bytes, more than the {max_blob} bytes allowed", desc.size));
        }
        let name = format!("blobs/{}/{}", digest.algorithm().name(), digest.hex());
        let bytes = self.read(&name, max_blob).map_err(|e| e.replacen(&name, &format!("blob {digest}"), 1))?;
        if bytes.len() as u64 != desc.size {
            return Err(format!("blob {digest} is {} bytes, its descriptor says {}", bytes.len(), desc.size));
        }
        digest.verify(&bytes).map_err(|e| format!("blob {digest}: {e}"))?;
        Ok(bytes)
    }
}

fn io_problem(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => format!("cannot read: {e}"),
    }
}

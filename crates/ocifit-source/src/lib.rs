//! Where indexes come from: a JSON file, standard input, and (later) OCI
//! image layouts and registries, behind one [`Source`] type.
//!
//! Every command that reads an index parses its SOURCE argument with
//! [`Source::parse`] and calls [`Source::load`]; nothing else in ocifit
//! opens files or talks to the network for an index. The result keeps the
//! exact bytes read, so commands that rewrite an index can compare, and
//! lint can map JSON pointers back to lines.
//!
//! Not here: host detection (`ocifit-host`) and the rules (`ocifit-core`).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use ocifit_core::index::{IndexErrorKind, MAX_INDEX_BYTES};
use ocifit_core::{Index, IndexError};

/// A SOURCE argument (§8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A path to a JSON file.
    File(PathBuf),
    /// `-`.
    Stdin,
    /// `oci:DIR[:TAG]`.
    OciLayout { dir: PathBuf, tag: Option<String> },
    /// `docker://REFERENCE`, or a bare reference that is not an existing path.
    Registry(String),
}

impl Source {
    /// Read a SOURCE argument. A path that exists is always a file; a bare
    /// argument that does not exist but looks like an image reference
    /// (`registry/repo:tag`) is a registry reference.
    pub fn parse(arg: &str) -> Source {
        if arg == "-" {
            return Source::Stdin;
        }
        if let Some(rest) = arg.strip_prefix("oci:") {
            // A tag never contains '/', so the last ':' after the last '/' splits it.
            let slash = rest.rfind('/').map_or(0, |i| i + 1);
            return match rest[slash..].rfind(':') {
                Some(colon) => Source::OciLayout {
                    dir: rest[..slash + colon].into(),
                    tag: Some(rest[slash + colon + 1..].to_string()).filter(|t| !t.is_empty()),
                },
                None => Source::OciLayout { dir: rest.into(), tag: None },
            };
        }
        if let Some(rest) = arg.strip_prefix("docker://") {
            return Source::Registry(rest.to_string());
        }
        if Path::new(arg).exists() || !looks_like_reference(arg) {
            return Source::File(arg.into());
        }
        Source::Registry(arg.to_string())
    }

    /// Fetch the bytes and check them as an index.
    pub fn load(&self) -> Result<Loaded, SourceError> {
        let bytes = match self {
            Source::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| self.error(io_problem(&e)))?;
                if file.metadata().is_ok_and(|m| m.is_dir()) {
                    return Err(self.error("is a directory (for an OCI layout write oci:DIR)".into()));
                }
                read_limited(file).map_err(|p| self.error(p))?
            }
            Source::Stdin => read_limited(std::io::stdin().lock()).map_err(|p| self.error(p))?,
            Source::OciLayout { .. } => {
                return Err(self.error("OCI image layouts are not supported yet".into()));
            }
            Source::Registry(_) => {
                return Err(self.error("registries are not supported yet".into()));
            }
        };
        let index = Index::from_slice(&bytes).map_err(|e| self.index_error(e))?;
        Ok(Loaded { source: self.clone(), bytes, index })
    }

    fn error(&self, problem: String) -> SourceError {
        SourceError { input: self.to_string(), problem, pointer: None }
    }

    fn index_error(&self, e: IndexError) -> SourceError {
        let pointer = (e.kind == IndexErrorKind::Shape && !e.pointer.is_empty()).then(|| e.pointer.clone());
        SourceError { input: self.to_string(), problem: e.to_string(), pointer }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Stdin => f.write_str("<stdin>"),
            Source::OciLayout { dir, tag: Some(t) } => write!(f, "oci:{}:{t}", dir.display()),
            Source::OciLayout { dir, tag: None } => write!(f, "oci:{}", dir.display()),
            Source::Registry(r) => write!(f, "docker://{r}"),
        }
    }
}

/// An index as read from a source.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub source: Source,
    /// The exact bytes, for byte-level comparisons and line/column mapping.
    pub bytes: Vec<u8>,
    pub index: Index,
}

/// A source that could not be read or is not an index; `Display` is the
/// one-line message the CLI prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input}: {problem}")]
pub struct SourceError {
    pub input: String,
    pub problem: String,
    /// Where in the document, when the problem is in one value.
    pub pointer: Option<String>,
}

fn io_problem(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => format!("cannot read: {e}"),
    }
}

fn read_limited(reader: impl Read) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    reader.take(MAX_INDEX_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| io_problem(&e))?;
    if bytes.len() > MAX_INDEX_BYTES {
        return Err(format!("larger than the {} MiB an index may have", MAX_INDEX_BYTES >> 20));
    }
    Ok(bytes)
}

/// `host[:port]/path[:tag][@digest]` or `name:tag`: something a user means
/// as an image, not a mistyped file name.
fn looks_like_reference(arg: &str) -> bool {
    !arg.is_empty()
        && !arg.ends_with(".json")
        && !arg.starts_with('.')
        && !arg.starts_with('/')
        && arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/:@[]".contains(&b))
        && (arg.contains('/') || arg.contains(':') || arg.contains('@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_source_forms() {
        let cases: &[(&str, Source)] = &[
            ("-", Source::Stdin),
            ("oci:layout", Source::OciLayout { dir: "layout".into(), tag: None }),
            ("oci:layout:v1", Source::OciLayout { dir: "layout".into(), tag: Some("v1".into()) }),
            ("oci:/tmp/a:b/dir:tag", Source::OciLayout { dir: "/tmp/a:b/dir".into(), tag: Some("tag".into()) }),
            ("docker://alpine", Source::Registry("alpine".into())),
            ("localhost:5000/app:1", Source::Registry("localhost:5000/app:1".into())),
            ("missing.json", Source::File("missing.json".into())),
            ("./missing", Source::File("./missing".into())),
            ("plainword", Source::File("plainword".into())),
        ];
        for (arg, want) in cases {
            assert_eq!(&Source::parse(arg), want, "{arg}");
        }
    }

    #[test]
    fn missing_file_names_the_input() {
        let err = Source::parse("definitely-missing.json").load().unwrap_err();
        assert_eq!(err.to_string(), "definitely-missing.json: no such file");
    }
}

//! Making images available where an index is written, then writing it.
//!
//! For every image from another place than the destination, each blob and
//! manifest it needs ([`crate::image::Contents`]) is checked for and, when
//! missing, brought over: into a registry repository by cross-repository
//! mount when the image is on the same registry, else by a streamed copy;
//! into a layout by a streamed copy into its blob directory. Manifests go
//! after their blobs, the index last, so a reader never finds an index
//! whose images are not all there.

use std::fmt;
use std::path::PathBuf;

use ocifit_core::index::{OCI_INDEX, OCI_MANIFEST};
use ocifit_source::layout::copy as layout;
use ocifit_source::registry::copy::{BlobOutcome, Repository};
use ocifit_source::registry::push::{PushError, push_index};
use ocifit_source::{Digest, Options, Reference};

use crate::image::{Image, Place, same_dir};

/// Where a new index goes (`--push`).
// One per IMAGE argument: the size difference costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Destination {
    /// `docker://REF`, REF with a tag or digest.
    Registry { reference: Reference, repository: Repository },
    /// `oci:DIR:TAG`.
    Layout { dir: PathBuf, tag: String },
}

impl Destination {
    /// Parse `--push docker://REF` or `--push oci:DIR:TAG`. A registry
    /// reference must name a tag or digest (ocifit never pushes to an
    /// implicit `latest`); a layout needs the tag.
    pub fn parse(arg: &str, options: &Options) -> Result<Destination, String> {
        if let Some(rest) = arg.strip_prefix("oci:") {
            let slash = rest.rfind('/').map_or(0, |i| i + 1);
            return match rest[slash..].rfind(':') {
                Some(colon) if colon + 1 < rest.len() - slash => Ok(Destination::Layout {
                    dir: rest[..slash + colon].into(),
                    tag: rest[slash + colon + 1..].to_string(),
                }),
                _ => Err(format!("{arg}: name the tag to write (oci:DIR:TAG)")),
            };
        }
        let text = arg.strip_prefix("docker://").unwrap_or(arg);
        // A reference may carry credentials (user:password@host): never repeat them.
        let shown = ocifit_source::reference::redact(arg);
        let reference = Reference::parse(text).map_err(|e| format!("{shown}: {e}"))?;
        let last = text.rsplit('/').next().unwrap_or(text);
        if !last.contains(':') && !text.contains('@') {
            return Err(format!(
                "{shown}: name a tag or digest (docker://{}:TAG); ocifit does not push to `latest` implicitly",
                ocifit_source::reference::redact(text)
            ));
        }
        let repository = Repository::new(&reference, options);
        Ok(Destination::Registry { reference, repository })
    }

    /// `registry/repository:tag` or `oci:DIR:TAG`.
    pub fn name(&self) -> String {
        match self {
            Destination::Registry { reference, .. } => reference.to_string(),
            Destination::Layout { dir, tag } => format!("oci:{}:{tag}", dir.display()),
        }
    }

    /// `registry` or `layout`.
    pub fn kind(&self) -> &'static str {
        match self {
            Destination::Registry { .. } => "registry",
            Destination::Layout { .. } => "layout",
        }
    }

    fn holds(&self, place: &Place) -> bool {
        match (self, place) {
            (Destination::Registry { repository, .. }, Place::Registry(r)) => repository.name() == r.name(),
            (Destination::Layout { dir, .. }, Place::Layout(d)) => same_dir(dir, d),
            _ => false,
        }
    }
}

/// One blob or manifest brought to the destination (or, in a dry run,
/// that would be): what `ocifit index` prints on stderr, or lists under
/// `uploads` with `--format json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub action: UploadAction,
    /// A manifest, else a blob.
    pub manifest: bool,
    pub digest: Digest,
    pub size: u64,
    /// The repository or layout it comes from (`registry/repository`, `oci:DIR`).
    pub from: String,
    /// The repository or layout it goes to.
    pub to: String,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadAction {
    /// A cross-repository mount (in a dry run: tried first; the registry
    /// may decline, and the blob is then copied).
    Mount,
    /// A streamed copy.
    Copy,
    /// A manifest `PUT` to a registry.
    Push,
}

impl UploadAction {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadAction::Mount => "mount",
            UploadAction::Copy => "copy",
            UploadAction::Push => "push",
        }
    }
}

impl Upload {
    /// `blob` or `manifest`.
    pub fn kind(&self) -> &'static str {
        if self.manifest { "manifest" } else { "blob" }
    }
}

impl fmt::Display for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Upload { digest, size, from, to, .. } = self;
        let kind = self.kind();
        let verb = match (self.action, self.dry_run) {
            (action, true) => format!("would {}", action.as_str()),
            (UploadAction::Mount, false) => "mounted".into(),
            (UploadAction::Copy, false) => "copied".into(),
            (UploadAction::Push, false) => "pushed".into(),
        };
        match (self.action, self.manifest) {
            (UploadAction::Mount, _) if self.dry_run => {
                write!(f, "{verb} {kind} {digest} from {from} (or copy it, {size} bytes, if the registry declines)")
            }
            (UploadAction::Mount, _) => write!(f, "{verb} {kind} {digest} from {from}"),
            (_, false) => write!(f, "{verb} {kind} {digest} ({size} bytes) from {from}"),
            (UploadAction::Push, true) => write!(f, "{verb} {kind} {digest} to {to}"),
            (_, true) => write!(f, "{verb} {kind} {digest} into {to}"),
        }
    }
}

/// Told of every [`Upload`], in order, as it is done (or planned).
pub type Log<'a> = &'a mut dyn FnMut(Upload);

/// Bring every image that is not already in `destination` over (or, with
/// `dry_run`, only say what would be brought). Images in the destination
/// itself and index files (which have no blobs) are skipped here: the
/// registry push checks that every entry is there, and [`write_index`]
/// does for a layout.
pub fn make_available(
    images: &[Image],
    destination: &Destination,
    options: &Options,
    dry_run: bool,
    log: Log<'_>,
) -> Result<(), String> {
    if let Destination::Layout { dir, .. } = destination {
        if !dry_run {
            layout::init(dir).map_err(|e| format!("oci:{}: {e}", dir.display()))?;
        }
    }
    // Everything is read and planned before anything is written: a missing
    // blob or manifest stops the command with nothing written.
    let mut plans = Vec::new();
    for image in images.iter().filter(|i| !destination.holds(&i.place) && !matches!(i.place, Place::File(_))) {
        plans.push((image, image.contents(options)?));
    }
    for (image, contents) in &plans {
        for blob in &contents.blobs {
            match destination {
                Destination::Registry { repository, .. } => {
                    let from = match &image.place {
                        Place::Registry(r) => Some(r),
                        _ => None,
                    };
                    let upload = |action| Upload {
                        action,
                        manifest: false,
                        digest: blob.digest.clone(),
                        size: blob.size,
                        from: image.place.name(),
                        to: repository.name(),
                        dry_run,
                    };
                    if dry_run {
                        if !repository.has_blob(&blob.digest)? {
                            // Within one registry a mount is tried first.
                            let same = from.is_some_and(|f| f.registry() == repository.registry());
                            log(upload(if same { UploadAction::Mount } else { UploadAction::Copy }));
                        }
                        continue;
                    }
                    let mut open = || open_blob(&image.place, &blob.digest);
                    match repository.put_blob(&blob.digest, blob.size, from, &mut open)? {
                        BlobOutcome::Present => {}
                        BlobOutcome::Mounted => log(upload(UploadAction::Mount)),
                        BlobOutcome::Copied => log(upload(UploadAction::Copy)),
                    }
                }
                Destination::Layout { dir, .. } => {
                    if layout::has_blob(dir, &blob.digest, Some(blob.size)) {
                        continue;
                    }
                    log(Upload {
                        action: UploadAction::Copy,
                        manifest: false,
                        digest: blob.digest.clone(),
                        size: blob.size,
                        from: image.place.name(),
                        to: format!("oci:{}", dir.display()),
                        dry_run,
                    });
                    if !dry_run {
                        let mut reader = open_blob(&image.place, &blob.digest)?;
                        layout::put_blob(dir, &blob.digest, blob.size, &mut reader)
                            .map_err(|e| format!("oci:{}: {e}", dir.display()))?;
                    }
                }
            }
        }
        for manifest in &contents.manifests {
            let media_type = if manifest.media_type.is_empty() {
                if manifest.bytes.windows(11).any(|w| w == b"\"manifests\"") { OCI_INDEX } else { OCI_MANIFEST }
            } else {
                &manifest.media_type
            };
            let upload = |action, to| Upload {
                action,
                manifest: true,
                digest: manifest.digest.clone(),
                size: manifest.bytes.len() as u64,
                from: image.place.name(),
                to,
                dry_run,
            };
            match destination {
                Destination::Registry { repository, .. } => {
                    if repository.has_manifest(&manifest.digest)? {
                        continue;
                    }
                    log(upload(UploadAction::Push, repository.name()));
                    if !dry_run {
                        repository.put_manifest(&manifest.bytes, media_type, &manifest.digest.to_string())?;
                    }
                }
                Destination::Layout { dir, .. } => {
                    if layout::has_blob(dir, &manifest.digest, Some(manifest.bytes.len() as u64)) {
                        continue;
                    }
                    log(upload(UploadAction::Copy, format!("oci:{}", dir.display())));
                    if !dry_run {
                        layout::put_small_blob(dir, &manifest.digest, &manifest.bytes)
                            .map_err(|e| format!("oci:{}: {e}", dir.display()))?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn open_blob(place: &Place, digest: &Digest) -> Result<Box<dyn std::io::Read + Send>, String> {
    match place {
        Place::Registry(r) => r.open_blob(digest),
        Place::Layout(dir) => {
            layout::open_blob(dir, digest).map(|f| Box::new(f) as _).map_err(|e| format!("oci:{}: {e}", dir.display()))
        }
        Place::File(path) => Err(format!("{}: a file holds no blob {digest}", path.display())),
    }
}

/// Write the index to the destination: `PUT` to the registry (after `HEAD`
/// checks that every entry is there), or a blob and a tag in the layout.
/// Returns `registry/repository@digest` or `oci:DIR@digest`.
pub fn write_index(
    destination: &Destination,
    bytes: &[u8],
    media_type: &str,
    options: &Options,
) -> Result<String, PushError> {
    match destination {
        Destination::Registry { reference, .. } => {
            push_index(reference, bytes, media_type, options).map(|d| format!("{}@{d}", reference.name()))
        }
        Destination::Layout { dir, tag } => {
            // Every manifest the index lists must be there, else the index would be broken in it.
            let missing = missing_manifests(destination, bytes).map_err(PushError::Other)?;
            if !missing.is_empty() {
                return Err(PushError::Missing { repository: format!("oci:{}", dir.display()), digests: missing });
            }
            layout::tag_index(dir, tag, bytes, media_type)
                .map(|d| format!("oci:{}@{d}", dir.display()))
                .map_err(|e| PushError::Other(format!("oci:{}: {e}", dir.display())))
        }
    }
}

/// The manifests `index` lists that `destination` lacks (read-only: `HEAD`
/// requests, or blob files in a layout).
pub fn missing_manifests(destination: &Destination, index: &[u8]) -> Result<Vec<String>, String> {
    let doc: serde_json::Value = serde_json::from_slice(index).map_err(|e| format!("the index is not JSON: {e}"))?;
    let mut missing = Vec::new();
    for entry in doc.get("manifests").and_then(serde_json::Value::as_array).into_iter().flatten() {
        let digest = entry.get("digest").and_then(serde_json::Value::as_str).unwrap_or_default();
        let digest = Digest::parse(digest).map_err(|e| format!("the index lists {e}"))?;
        let present = match destination {
            Destination::Registry { repository, .. } => repository.has_manifest(&digest)?,
            Destination::Layout { dir, .. } => layout::has_blob(dir, &digest, None),
        };
        if !present && !missing.contains(&digest.to_string()) {
            missing.push(digest.to_string());
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stderr line of every kind of upload, done and planned.
    #[test]
    fn uploads_read_as_what_was_or_would_be_done() {
        let digest = Digest::sha256(b"x");
        let upload = |action, manifest, dry_run| {
            Upload {
                action,
                manifest,
                digest: digest.clone(),
                size: 7,
                from: "a/src".into(),
                to: "a/dst".into(),
                dry_run,
            }
            .to_string()
        };
        let cases = [
            (UploadAction::Mount, false, false, "mounted blob D from a/src"),
            (
                UploadAction::Mount,
                false,
                true,
                "would mount blob D from a/src (or copy it, 7 bytes, if the registry declines)",
            ),
            (UploadAction::Copy, false, false, "copied blob D (7 bytes) from a/src"),
            (UploadAction::Copy, false, true, "would copy blob D (7 bytes) from a/src"),
            (UploadAction::Push, true, false, "pushed manifest D to a/dst"),
            (UploadAction::Push, true, true, "would push manifest D to a/dst"),
            (UploadAction::Copy, true, false, "copied manifest D into a/dst"),
            (UploadAction::Copy, true, true, "would copy manifest D into a/dst"),
        ];
        for (action, manifest, dry_run, want) in cases {
            assert_eq!(upload(action, manifest, dry_run), want.replace('D', &digest.to_string()));
        }
    }

    #[test]
    fn destinations_parse_or_say_what_is_missing() {
        let options = Options::default();
        let ok = |arg: &str| Destination::parse(arg, &options).map(|d| d.name());
        assert_eq!(ok("docker://127.0.0.1:5000/app:1.0").unwrap(), "127.0.0.1:5000/app:1.0");
        assert_eq!(ok("127.0.0.1:5000/app:1.0").unwrap(), "127.0.0.1:5000/app:1.0");
        assert_eq!(ok("oci:/tmp/a:b/release:1.0").unwrap(), "oci:/tmp/a:b/release:1.0");
        let refused: &[(&str, &str)] = &[
            ("oci:release", "name the tag to write (oci:DIR:TAG)"),
            ("oci:release:", "name the tag to write (oci:DIR:TAG)"),
            ("docker://127.0.0.1:5000/app", "name a tag or digest"),
            ("docker://127.0.0.1:5000/App:1", "invalid reference"),
        ];
        for (arg, want) in refused {
            let e = ok(arg).unwrap_err();
            assert!(e.starts_with(arg) && e.contains(want), "{arg}: {e}");
        }
    }
}

//! The pure core of ocifit: everything about choosing an entry of an OCI
//! image index by CPU features that can be decided without touching the
//! machine, the disk or the network.
//!
//! - [`table`]: the feature table (data in `data/*.toml`, compiled in);
//! - [`platform`] and [`vector`]: containerd-compatible platform parsing,
//!   normalization and fallback vectors;
//! - [`index`]: a lossless index model (the JSON document plus a checked
//!   read view), and [`view`]: a faster read-only one for commands that
//!   only read;
//! - [`target`] and [`select`](mod@select): what we select for (command-line
//!   targets, level names, closure), and the matcher.
//!
//! The rules implemented are `docs/semantics.md` (§1–6, §8); each function names
//! the section it implements, and `docs/semantics.md` records the decisions
//! taken where the page is silent.
//!
//! ```
//! use ocifit_core::{FeatureTable, Index, Platform, Target, select};
//!
//! let index = Index::from_slice(br#"{"schemaVersion":2,"manifests":[
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
//!    "digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","platform":{"os":"linux","architecture":"amd64"}},
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
//!    "digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","platform":{"os":"linux","architecture":"amd64",
//!    "features":["avx2","bmi2"]}}]}"#).unwrap();
//! let table = FeatureTable::builtin();
//! let v3 = Target::guaranteed(&Platform::new("linux", "amd64", "v3"), table);
//! assert_eq!(select(&index, &v3, table).selected(), Some(1));
//! let v2 = Target::guaranteed(&Platform::new("linux", "amd64", "v2"), table);
//! assert_eq!(select(&index, &v2, table).selected(), Some(0));
//! ```
//!
//! This crate does no I/O, has no global state and no `unsafe`: host
//! detection, sources and output live in the edge crates.

#![forbid(unsafe_code)]

pub mod docs;
pub mod index;
pub mod platform;
pub mod select;
pub mod table;
pub mod target;
pub mod vector;
pub mod view;
pub mod windows;

pub use index::{Entries, Entry, Index, IndexError};
pub use platform::{Platform, PlatformDefaults, PlatformError};
pub use select::{Candidate, Mode, Reason, Rejection, Selection, legacy_select, select, select_with};
pub use table::{Family, Feature, FeatureId, FeatureSet, FeatureTable};
pub use target::{Target, UnknownFeature};
pub use view::IndexView;

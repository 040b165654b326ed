//! Fleets and Kubernetes: which images run on which nodes, and where a Pod
//! may be scheduled so that some entry of its index runs.
//!
//! - [`nodes`] reads node inputs, recognised by content — `kubectl get nodes
//!   -o json`, NFD `NodeFeature` objects, `ocifit host --format json`
//!   profiles, `/proc/cpuinfo` captures — into a [`Fleet`] whose nodes are
//!   grouped by identical profile;
//! - [`profile`] turns what an input proves into a [`NodeProfile`]: the two
//!   targets between which the node lies, so that a node whose labels cannot
//!   tell a feature gets the verdict `unknown` instead of a silent
//!   `incompatible`;
//! - [`nfd`] is node-feature-discovery's vocabulary (data): label names, the
//!   flags its default configuration hides, the `X86_64_V<n>` levels;
//! - [`check`] decides every (image, node group) pair;
//! - [`report`] writes the images × nodes report (text, JSON, CSV), with
//!   one error row for each image that could not be read;
//! - [`affinity`] writes a Pod `affinity` that admits exactly the labelled
//!   nodes on which some entry runs, and prefers those that run the best one;
//! - [`yaml`] prints such objects as YAML.
//!
//! ```
//! use ocifit_core::Index;
//! use ocifit_fleet::check::{Verdict, evaluate};
//! use ocifit_fleet::profile::{NodeProfile, Published};
//!
//! let index = Index::from_slice(br#"{"schemaVersion":2,"manifests":[
//!   {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
//!    "platform":{"os":"linux","architecture":"amd64","features":["avx2","bmi2"]}}]}"#).unwrap();
//! // NFD hides BMI2 by default: without the X86_64_V3 label nothing proves it.
//! let labels = ["AVX", "AVX2", "X86_64_V1", "X86_64_V2"];
//! let node = NodeProfile::from_nfd("linux", "amd64", labels, Published::Labels);
//! let outcome = evaluate(&index, &node);
//! assert_eq!(outcome.verdict, Verdict::Unknown);
//! assert_eq!(outcome.depends_on.sorted_names(), ["bmi2"]);
//! ```
//!
//! The library does no network I/O and never prints: images arrive as
//! parsed [`ocifit_core::Index`] values (the CLI loads them with
//! `ocifit-source`), and notes are returned as strings.

#![forbid(unsafe_code)]

pub mod affinity;
pub mod check;
pub mod nfd;
pub mod nodes;
pub mod profile;
pub mod report;
pub mod yaml;

pub use check::{ImageCheck, Outcome, Prepared, Verdict};
pub use nodes::{Fleet, Group, Node, NodeInputError};
pub use profile::{NodeProfile, Published};
pub use report::{ImageResult, Report};

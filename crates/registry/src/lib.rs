//! Signed lucet artifacts in OCI registries (docs/artifact-format.md, "In
//! an OCI registry"): an artifact is one layer of an OCI 1.1 artifact
//! manifest, its source and `.minisig` an optional referrer; or, for
//! containerd, a container image holding the artifact as a file
//! ([`container`]).
//!
//! Nothing a registry says is trusted. [`push`] verifies the artifact before
//! it uploads it and derives the manifest's annotations from the verified
//! metadata only; [`pull`] checks the manifest against a digest reference,
//! caps the layer's size before downloading it, and verifies the signature
//! and load policy before handing bytes back. The annotations are for people
//! and search; no decision here reads them.
//!
//! This crate knows OCI and the artifact format, not wasmtime: a runner that
//! pulls still verifies again when it loads.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
mod client;
pub mod container;
mod error;
mod fetcher;
mod inspect;
mod manifest;
pub mod media;
mod pull;
mod push;
mod verify;

pub use cache::{Cache, CachedArtifact, OCI_SCHEME, oci_reference, open_oci};
pub use client::{Registry, RegistryOptions};
pub use error::Error;
pub use fetcher::{FETCHER, open_oci_with_fetcher};
pub use inspect::{Description, Referrer, inspect};
pub use pull::{DEFAULT_MAX_ARTIFACT_SIZE, Pulled, pull};
pub use push::{Packaging, Pushed, SourceFiles, push};

//! What can go wrong between a registry and an artifact, as data: the tools
//! print it as one line and add advice in their own flags.

use std::path::PathBuf;

/// An error from pushing, pulling or inspecting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The reference does not parse (`HOST[:PORT]/REPOSITORY[:TAG][@DIGEST]`).
    #[error("invalid reference {reference:?}")]
    Reference {
        /// As given.
        reference: String,
        /// Why it does not parse.
        source: oci_client::ParseError,
    },
    /// The credentials configured for the registry could not be read.
    #[error("credentials for {registry}: {message}")]
    Credentials {
        /// The registry host.
        registry: String,
        /// What went wrong, from the credential store.
        message: String,
    },
    /// The registry refused or failed a request, or the connection failed.
    #[error("{reference}")]
    Registry {
        /// The reference being worked on.
        reference: String,
        /// The client's error, with the registry's own message.
        source: oci_client::errors::OciDistributionError,
    },
    /// A manifest fetched by digest is not the one asked for.
    #[error("{reference}: the registry sent a manifest whose digest is {actual}")]
    ManifestDigest {
        /// The reference, with the digest asked for.
        reference: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The manifest is not a lucet artifact's.
    #[error("{reference} is not a lucet artifact: {reason}")]
    NotAnArtifact {
        /// The reference.
        reference: String,
        /// What in the manifest is wrong.
        reason: String,
    },
    /// The artifact is larger than the caller accepts; nothing was downloaded.
    #[error("{reference}: the artifact is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The reference.
        reference: String,
        /// The size the manifest declares.
        size: u64,
        /// The caller's limit.
        limit: u64,
    },
    /// The layer's content is not what its descriptor says.
    #[error("{reference}: the registry sent {reason}")]
    LayerMismatch {
        /// The reference.
        reference: String,
        /// How it differs.
        reason: String,
    },
    /// The artifact was refused: its signature, metadata or policy.
    #[error(transparent)]
    Artifact(lucet_artifact::Error),
    /// The source given with `push` is not the one the artifact was compiled from.
    #[error(
        "{path} is not the source this artifact was compiled from (its BLAKE2b differs from the signed source hash)"
    )]
    SourceMismatch {
        /// The source file given.
        path: PathBuf,
    },
    /// A local file could not be read.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The fetcher a runner starts for `oci://REF` did not deliver
    /// ([`open_oci_with_fetcher`](crate::open_oci_with_fetcher)).
    #[error("cannot fetch {reference} with {}: {message}", fetcher.display())]
    Fetch {
        /// The reference.
        reference: String,
        /// The program run.
        fetcher: PathBuf,
        /// Why, in the fetcher's words when it gave any.
        message: String,
    },
    /// A container image cannot be made for the artifact's target.
    #[error(
        "the artifact is compiled for {target}, which has no Linux container platform (x86-64 and aarch64 Linux have)"
    )]
    UnsupportedPlatform {
        /// The artifact's target triple, escaped.
        target: String,
    },
}

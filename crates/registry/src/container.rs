//! A signed artifact packaged as a container image that containerd can
//! pull, unpack and start with the `io.containerd.lucet.v1` runtime
//! (`containerd-shim-lucet`): one uncompressed tar layer holding the
//! artifact at [`ENTRYPOINT`], never executable, and an image config for the
//! artifact's own platform whose entry point is that file.
//!
//! The artifact is an ordinary file in the image, not a layer of its own:
//! containerd releases before 1.6.25/1.7.7 cannot create containers from
//! images with non-tar layers, and the shim then reads the file with the
//! node's caps inside the container rather than a whole layer into its own
//! memory.

use std::collections::BTreeMap;

use lucet_artifact::Metadata;

use crate::Error;
use crate::manifest::sha256_digest;

/// Where the artifact lies in the image, and the image's entry point.
pub const ENTRYPOINT: &str = "/app.lucet";

/// An uncompressed OCI layer.
pub const TAR_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// An OCI image config.
pub const IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// The layer: a tar with [`ENTRYPOINT`] as a 0644 file owned by root. Mode
/// 0644 matters: the artifact is an ELF file, and runtimes run executable
/// ELF entry points natively (`containerd-shim-lucet` refuses them).
pub(crate) fn layer(artifact: &[u8]) -> Result<Vec<u8>, Error> {
    let mut header = tar::Header::new_ustar();
    header.set_size(artifact.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    // A fixed time: the same artifact makes the same layer.
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    let mut builder = tar::Builder::new(Vec::with_capacity(artifact.len() + 2048));
    let path = ENTRYPOINT.trim_start_matches('/');
    builder
        .append_data(&mut header, path, artifact)
        .and_then(|()| builder.into_inner())
        .map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
}

/// The image config for `metadata`'s platform, whose only layer is `layer`
/// (uncompressed: its digest is its diff id).
pub(crate) fn config(
    metadata: &Metadata,
    layer: &[u8],
    labels: &BTreeMap<String, String>,
) -> Result<Vec<u8>, Error> {
    let architecture =
        oci_architecture(&metadata.target).ok_or_else(|| Error::UnsupportedPlatform {
            target: lucet_signature::escape_for_display(&metadata.target),
        })?;
    let config = serde_json::json!({
        "created": labels.get(crate::media::annotation::CREATED),
        "architecture": architecture,
        "os": "linux",
        "config": {
            "Entrypoint": [ENTRYPOINT],
            "Labels": labels,
        },
        "rootfs": {
            "type": "layers",
            "diff_ids": [sha256_digest(layer)],
        },
    });
    Ok(serde_json::to_vec(&config).expect("a JSON value always serialises"))
}

/// OCI's name for the architecture of a target triple such as
/// `x86_64-unknown-linux-gnu`, for the Linux targets artifacts are made for.
fn oci_architecture(target: &str) -> Option<&'static str> {
    let (arch, rest) = target.split_once('-')?;
    if !rest.contains("linux") {
        return None;
    }
    match arch {
        "x86_64" => Some("amd64"),
        "aarch64" => Some("arm64"),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn the_layer_holds_the_artifact_at_the_entry_point_not_executable() {
        let layer = layer(b"\x7fELF artifact").unwrap();
        let mut archive = tar::Archive::new(layer.as_slice());
        let mut entries = archive.entries().unwrap();
        let mut entry = entries.next().unwrap().unwrap();
        assert_eq!(entry.path().unwrap().to_str(), Some("app.lucet"));
        assert_eq!(entry.header().mode().unwrap(), 0o644);
        let mut contents = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut contents).unwrap();
        assert_eq!(contents, b"\x7fELF artifact");
        assert!(entries.next().is_none());
    }

    #[test]
    fn architectures_are_named_as_oci_names_them() {
        assert_eq!(oci_architecture("x86_64-unknown-linux-gnu"), Some("amd64"));
        assert_eq!(oci_architecture("aarch64-unknown-linux-gnu"), Some("arm64"));
        assert_eq!(oci_architecture("x86_64-apple-darwin"), None);
        assert_eq!(oci_architecture("riscv64gc-unknown-linux-gnu"), None);
    }
}

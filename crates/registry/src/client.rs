//! Reaching a registry: which scheme, which credentials, which limits on
//! time. One place, so push, pull and inspect cannot differ.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::Error;

/// A registry that stops answering fails the request after this long,
/// rather than hanging the tool.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How registries are reached.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Registries (`HOST[:PORT]`, as in references) reached over plain
    /// HTTP although they are not on this machine. Loopback registries are
    /// always reached over plain HTTP, as docker and containerd reach them.
    pub insecure_registries: Vec<String>,
}

/// Connections to registries, with credentials from the user's docker (or
/// podman) configuration.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    options: RegistryOptions,
}

/// A reference resolved to a client that speaks to its registry.
pub(crate) struct Connection {
    pub client: Client,
    pub auth: RegistryAuth,
    pub reference: Reference,
}

impl Registry {
    /// Registries reached as `options` say.
    pub fn new(options: RegistryOptions) -> Registry {
        // reqwest is built without a TLS provider of its own (see Cargo.toml);
        // a second install (another Registry) is refused harmlessly.
        // ring, not rustls' default aws-lc-rs: no second C library to build.
        // ring lacks post-quantum key exchange, so rustls marks it
        // deprecated; what crosses is signed end to end, and the
        // credentials sent are the registry's own.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        Registry { options }
    }

    /// A client for `reference`'s registry, and the credentials configured for it.
    pub(crate) fn connect(&self, reference: &str) -> Result<Connection, Error> {
        let parsed: Reference = reference.parse().map_err(|source| Error::Reference {
            reference: reference.to_string(),
            source,
        })?;
        let registry = parsed.resolve_registry().to_string();
        let plain_http =
            is_loopback(&registry) || self.options.insecure_registries.contains(&registry);
        let protocol = if plain_http {
            ClientProtocol::HttpsExcept(vec![registry.clone()])
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            read_timeout: Some(READ_TIMEOUT),
            connect_timeout: Some(CONNECT_TIMEOUT),
            user_agent: concat!("lucet-oci/", env!("CARGO_PKG_VERSION")),
            // Referrers and artifacts are chosen by artifact type, never by platform.
            platform_resolver: None,
            ..ClientConfig::default()
        };
        Ok(Connection {
            client: Client::new(config),
            auth: credentials(&registry)?,
            reference: parsed,
        })
    }
}

/// Whether `registry` (`HOST[:PORT]`) names this machine.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => registry.rsplit_once(':').map_or(registry, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The credentials the user's configuration holds for `registry`:
/// docker's (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`,
/// credential helpers included), else podman's and skopeo's `auth.json`;
/// anonymous when none has any. A file that exists but cannot be read is an
/// error, never a silent anonymous request.
///
/// docker_credential reads and decodes the files; which files, is chosen
/// here: its own lookup reports a missing file as unreadable.
fn credentials(registry: &str) -> Result<RegistryAuth, Error> {
    use docker_credential::{CredentialRetrievalError as Missing, DockerCredential};
    let failed = |message: String| Error::Credentials {
        registry: registry.to_string(),
        message,
    };
    for path in credential_files() {
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(failed(format!("{}: {error}", path.display()))),
        };
        let reader = std::io::BufReader::new(file);
        match docker_credential::get_credential_from_reader(reader, registry) {
            Ok(DockerCredential::UsernamePassword(user, password)) => {
                return Ok(RegistryAuth::Basic(user, password));
            }
            Ok(DockerCredential::IdentityToken(_)) => {
                return Err(failed(format!(
                    "{} holds an identity token, which this client cannot exchange; log in with a user name and a password or access token",
                    path.display()
                )));
            }
            Err(Missing::NoCredentialConfigured) => continue,
            Err(error) => return Err(failed(format!("{}: {error}", path.display()))),
        }
    }
    Ok(RegistryAuth::Anonymous)
}

/// Where docker, then podman and skopeo, keep registry credentials.
fn credential_files() -> Vec<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|value| !value.is_empty());
    let home = var("HOME").map(PathBuf::from);
    let docker_dir = var("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|home| home.join(".docker")));
    let mut files: Vec<PathBuf> = docker_dir
        .map(|dir| dir.join("config.json"))
        .into_iter()
        .collect();
    match var("REGISTRY_AUTH_FILE") {
        Some(file) => files.push(file.into()),
        None => {
            if let Some(runtime) = var("XDG_RUNTIME_DIR") {
                files.push(PathBuf::from(runtime).join("containers/auth.json"));
            }
            if let Some(home) = &home {
                files.push(home.join(".config/containers/auth.json"));
            }
        }
    }
    files
}

impl Connection {
    /// Hands the credentials to the client for requests that do not take
    /// them themselves (blob and manifest uploads).
    pub(crate) async fn authorize(&self) {
        self.client
            .store_auth_if_needed(self.reference.resolve_registry(), &self.auth)
            .await;
    }

    /// `HOST/REPOSITORY@DIGEST`, for printing.
    pub(crate) fn pinned(&self, digest: &str) -> String {
        format!(
            "{}/{}@{digest}",
            self.reference.resolve_registry(),
            self.reference.repository()
        )
    }

    /// The same repository, at `digest` or `tag`.
    pub(crate) fn at_digest(&self, digest: &str) -> oci_client::Reference {
        oci_client::Reference::with_digest(
            self.reference.resolve_registry().to_string(),
            self.reference.repository().to_string(),
            digest.to_string(),
        )
    }
    pub(crate) fn at_tag(&self, tag: &str) -> oci_client::Reference {
        oci_client::Reference::with_tag(
            self.reference.resolve_registry().to_string(),
            self.reference.repository().to_string(),
            tag.to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_is_this_machine_only() {
        for registry in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "LOCALHOST",
        ] {
            assert!(is_loopback(registry), "{registry}");
        }
        for registry in [
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.example:5000",
            "[::2]:80",
            "127.0.0.1.nip.io",
        ] {
            assert!(!is_loopback(registry), "{registry}");
        }
    }
}

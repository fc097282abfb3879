//! lucet-oci against a real registry (CNCF distribution, Debian's
//! `docker-registry`) that each test starts on loopback and stops, with the
//! real lucetc, lucet-wasi, skopeo and minisign around it.

mod harness;

mod auth;
mod refusals;
mod roundtrip;
mod runners;
mod versions;

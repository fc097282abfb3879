//! `lucet-oci` as a library holds only its command-line definition
//! ([`cli`]), so that `lucet-dist` generates the man page and shell
//! completions from the very definition the binary parses. The work is
//! `lucet-registry`'s.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cli;

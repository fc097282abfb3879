//! `lucetc`: compile WebAssembly ahead of time to a lucet artifact.
//!
//! With `--signature-pk`, compiles only sources whose `.minisig` verifies;
//! with `--signature-sk`, signs the artifact it writes. Each [`Mode`] has its
//! own file; this one only chooses it and prints the one-line error.
#![forbid(unsafe_code)]

mod compile;
mod countersign;
mod keygen;
mod keys;
mod output;
mod provenance;
mod resign;
mod source;
mod source_name;
mod verify_rebuild;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use lucetc::cli::Args;

fn main() -> ExitCode {
    let mut args = lucet_cli::parse::<Args>();
    trust_keys_from_env(&mut args);
    if let Err(usage) = args.check() {
        usage.exit();
    }
    lucet_cli::exit("lucetc", run(&args).map(|()| 0), advice)
}

/// `LUCET_SIGNATURE_PK` stands for `--signature-pk` where the flag names keys
/// that verify (compiling, `--resign`, `--verify-rebuild`), as in lucet-wasi
/// and lucet-objdump, when no key is given by -p or -P; never for keygen,
/// where the flag names a file to write.
fn trust_keys_from_env(args: &mut Args) {
    if !args.signature_keygen && !args.has_public_keys() {
        args.signature_pk = lucet_cli::signature_pk_from_env();
    }
}

/// What one lucetc invocation does, chosen from its flags.
enum Mode<'a> {
    /// `--signature-keygen`: make a key pair.
    Keygen,
    /// `--resign ARTIFACT`: the same artifact under a new signature.
    Resign(&'a Path),
    /// `--countersign ARTIFACT`: one more signature on the same artifact.
    Countersign(&'a Path),
    /// `--verify-rebuild ARTIFACT INPUT`: recompile and compare.
    VerifyRebuild(&'a Path),
    /// Compile INPUT (the default).
    Compile,
}

impl Mode<'_> {
    fn of(args: &Args) -> Mode<'_> {
        if args.signature_keygen {
            Mode::Keygen
        } else if let Some(artifact) = &args.resign {
            Mode::Resign(artifact)
        } else if let Some(artifact) = &args.countersign {
            Mode::Countersign(artifact)
        } else if let Some(artifact) = &args.verify_rebuild {
            Mode::VerifyRebuild(artifact)
        } else {
            Mode::Compile
        }
    }
}

fn run(args: &Args) -> Result<()> {
    match Mode::of(args) {
        Mode::Keygen => keygen::run(args),
        Mode::Resign(artifact) => resign::run(args, artifact),
        Mode::Countersign(artifact) => countersign::run(args, artifact),
        Mode::VerifyRebuild(artifact) => verify_rebuild::run(args, artifact),
        Mode::Compile => compile::run(args),
    }
}

/// The kind of file expected where `error` says another kind was given,
/// however deep in its causes: a key file's error is wrapped in the file's
/// name ([`lucet_signature::Error::InFile`]).
fn misidentified_file(error: &anyhow::Error) -> Option<lucet_signature::ObjectKind> {
    use lucet_signature::Error;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
    while let Some(current) = cause {
        let signature_error = current
            .downcast_ref::<Error>()
            .or_else(|| current.downcast_ref::<Box<Error>>().map(|boxed| &**boxed));
        if let Some(Error::WrongObject { expected, .. }) = signature_error {
            return Some(*expected);
        }
        cause = current.source();
    }
    None
}

/// Which flag takes a file of the `expected` kind, for a file of another
/// kind given where one was expected.
fn where_it_goes(expected: lucet_signature::ObjectKind) -> &'static str {
    use lucet_signature::ObjectKind;
    match expected {
        ObjectKind::SecretKey => {
            "-s/--signature-sk takes the secret key that signs; a public key goes to -p/--signature-pk, a source's signature to -x"
        }
        ObjectKind::Signature => {
            "-x takes the source's signature (INPUT.minisig by default); a public key goes to -p/--signature-pk"
        }
        _ => {
            "-p/--signature-pk takes a public key (.pub); the secret key goes to -s/--signature-sk, a source's signature to -x"
        }
    }
}

/// What to do about an error, in lucetc's flags: the libraries' errors say
/// what is wrong, and an embedder of them sees no flags of ours.
fn advice(error: &anyhow::Error) -> Option<String> {
    use lucet_signature::Error;
    if let Some(expected) = misidentified_file(error) {
        return Some(where_it_goes(expected).into());
    }
    match lucet_cli::cause::<Error>(error) {
        Some(Error::LegacySignatureRefused) => {
            Some("pass --allow-legacy-signatures if the signer is trusted".into())
        }
        Some(Error::KeyFileExists { .. }) => Some("pass --force to overwrite it".into()),
        _ => match lucet_cli::cause::<lucet_runtime::Error>(error) {
            Some(lucet_runtime::Error::NativeCpuForForeignTarget { .. }) => {
                Some("pass --target-cpu baseline (and --target-feature as needed)".into())
            }
            _ => lucet_cli::load_advice(error),
        },
    }
}

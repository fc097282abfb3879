//! The command-line definition of `lucetc`: its flags, help text and the
//! sections after the options.
//!
//! It lives in the library so that one definition serves the binary (which
//! parses with it) and `lucet-dist` (which generates the man page and shell
//! completions from it). Nothing here does I/O or touches secret keys.

use std::path::PathBuf;

use clap::Parser;
use lucet_runtime::{OptLevel, TargetCpu};
use lucet_signature::{ObjectKind, PublicKey};

/// Text after the options, as `(heading, body)` sections in order: `--help`
/// prints them under `Heading:` lines, the man page makes each heading a
/// section. Indented lines are shown verbatim; other lines are prose.
pub const SECTIONS: &[(&str, &str)] = &[
    (
        "Artifact",
        "\
The output is a wasmtime native image (an ELF relocatable object) followed by
lucet's signature or metadata block. It is named .so by Lucet habit but it is
NOT a shared library: run it with lucet-wasi, never dlopen it.",
    ),
    (
        "Keys",
        "\
-p/--signature-pk names a public key file (-P gives one inline, as minisign
does): compiling, it verifies INPUT's signature, INPUT.minisig or the file
-x names; with --resign and --verify-rebuild, it verifies ARTIFACT.
-s/--signature-sk names the secret key that signs the artifact. A secret key
is password-protected unless its path is prefixed with raw:, which makes and
opens an unencrypted key for automation. Passwords are asked without echo on
a terminal; otherwise one line per prompt is read from standard input.",
    ),
    (
        "Messages",
        "\
Each successful compile prints one line on standard error: the artifact
written and its size, whether a module or a component was compiled, the key
that verified the source and the key that signed the artifact (or unsigned).
A verified source's trusted comment is printed before it, labelled
`source trusted comment:`.",
    ),
    (
        "Environment",
        "\
SOURCE_DATE_EPOCH sets the artifact's timestamp (Unix seconds), so builds are
reproducible byte for byte.
LUCET_SIGNATURE_PK: colon-separated public key paths, used as --signature-pk
when neither -p nor -P is given (except with --signature-keygen, which writes
the flag's path).",
    ),
    (
        "Examples",
        "  lucetc hello.wat -o hello.so
  lucetc --signature-keygen --signature-sk lucet.key --signature-pk lucet.pub
  lucetc app.wasm --signature-pk publisher.pub --signature-sk lucet.key -o app.so
  lucetc app.wasm -P RWQ... -x signatures/app.wasm.minisig -s raw:ci.key -o app.so
  lucetc app.wasm --target aarch64-unknown-linux-gnu --target-cpu baseline -o app-arm64.so
  lucetc app.wasm --name billing --signature-pk publisher.pub --signature-sk lucet.key
  lucetc --resign app.so --signature-pk old.pub --signature-sk new.key
  lucetc --countersign app.so --role security --signature-pk ci.pub --signature-sk security.key
  lucetc --verify-rebuild app.so app.wasm --signature-pk lucet.pub",
    ),
    (
        "Exit status",
        "  0   compiled (or keys written, re-signed, counter-signed, rebuild matched)
  1   refused or failed
  2   usage error",
    ),
];

/// [`SECTIONS`] as `--help` prints them after the options.
pub fn after_help() -> String {
    lucet_cli::after_help(SECTIONS)
}

/// What `-h` prints after the options, instead of [`SECTIONS`].
const SHORT_AFTER_HELP: &str =
    "See `lucetc --help` for the output format, keys, environment, examples and exit status.";

/// Headings that group the options in `--help`.
const FILES: &str = "Input and output";
const CODEGEN: &str = "Code generation";
const TRUST: &str = "Trust";
const LIMITS: &str = "Limits";
const MODES: &str = "Other modes";

/// Compile WebAssembly (.wasm or .wat) ahead of time to a native lucet artifact.
///
/// With a public key (-p), only a source whose signature verifies is
/// compiled; with a secret key (-s), the artifact is signed. One line on
/// stderr says what was written, from what, and which keys vouched for it.
#[derive(Parser, Debug)]
#[command(
    name = "lucetc",
    version = lucet_runtime::version_details(),
    after_help = SHORT_AFTER_HELP,
    after_long_help = after_help()
)]
pub struct Args {
    /// WebAssembly module or component to compile: binary or text, detected by content.
    #[arg(value_name = "INPUT", required_unless_present_any = ["signature_keygen", "resign", "countersign"])]
    pub input: Option<PathBuf>,

    /// Where to write the artifact [default: INPUT's stem + .so, beside INPUT].
    #[arg(short, long, value_name = "PATH", help_heading = FILES)]
    pub output: Option<PathBuf>,

    /// The module's name in the artifact's signed metadata [default: INPUT's file stem].
    ///
    /// It says what the signature is for: runners can require it with
    /// lucet-wasi --expect-name, so a validly signed artifact cannot stand in
    /// for another.
    #[arg(long, value_name = "NAME", help_heading = FILES)]
    pub name: Option<String>,

    /// Add `comment=TEXT` to the artifact's (signed) metadata.
    #[arg(long, value_name = "TEXT", help_heading = FILES)]
    pub signature_comment: Option<String>,

    /// Replace a signed artifact with an unsigned one; with --signature-keygen, overwrite keys.
    ///
    /// Without it, an unsigned compile refuses to replace a signed artifact
    /// at the output path (sign the new one with -s instead), and
    /// --signature-keygen refuses to overwrite existing key files.
    #[arg(short = 'f', long, help_heading = FILES)]
    pub force: bool,

    /// Refuse WebAssembly text: accept only binary modules.
    #[arg(long, help_heading = FILES)]
    pub no_translate_wat: bool,

    /// Optimisation level: 0|1|2 or none|speed|speed_and_size.
    #[arg(long, value_name = "LEVEL", default_value = "speed_and_size", help_heading = CODEGEN)]
    pub opt_level: OptLevel,

    /// Target triple to compile for [default: this host].
    #[arg(long, value_name = "TRIPLE", help_heading = CODEGEN)]
    pub target: Option<String>,

    /// CPU features to start from: `native` (this host's) or `baseline` (portable).
    #[arg(long, value_name = "CPU", default_value = "native", help_heading = CODEGEN)]
    pub target_cpu: TargetCpu,

    /// Adjust CPU features: +NAME or -NAME, comma-separated or repeated (e.g. +avx2,-bmi2).
    #[arg(
        long,
        value_name = "+F,-F",
        value_delimiter = ',',
        allow_hyphen_values = true,
        help_heading = CODEGEN
    )]
    pub target_feature: Vec<String>,

    /// Address space reserved per linear memory (e.g. 4G); wasmtime's memory reservation.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, help_heading = CODEGEN)]
    pub reserved_size: Option<u64>,

    /// Guard region after each linear memory (e.g. 32M).
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, help_heading = CODEGEN)]
    pub guard_size: Option<u64>,

    /// Compile without epoch interruption: faster code that lucet-wasi --timeout cannot stop.
    #[arg(long, help_heading = CODEGEN)]
    pub no_interruption: bool,

    /// Lucet's flag; not supported (wasmtime reserves one size): use --reserved-size.
    #[arg(long, value_name = "SIZE", hide = true)]
    pub min_reserved_size: Option<String>,

    /// Lucet's flag; not supported (wasmtime reserves one size): use --reserved-size.
    #[arg(long, value_name = "SIZE", hide = true)]
    pub max_reserved_size: Option<String>,

    /// Compile only if INPUT's signature verifies against this public key file.
    ///
    /// Repeatable: any of the keys. LUCET_SIGNATURE_PK (colon-separated
    /// paths) is used when neither -p nor -P is given. With --resign and
    /// --verify-rebuild, the keys verify ARTIFACT instead. With
    /// --signature-keygen: where to write the public key.
    #[arg(short = 'p', long = "signature-pk", value_name = "PATH", help_heading = TRUST)]
    pub signature_pk: Vec<PathBuf>,

    /// A public key given inline, as minisign -P takes it (the RW... line of a .pub file).
    ///
    /// Trusted as a -p key file is; repeatable, and may be combined with -p.
    // Parsed in `check`, not by a clap value parser, whose error would echo
    // the value: a secret key pasted here by mistake must not be printed.
    #[arg(
        short = 'P',
        long = "signature-pk-base64",
        value_name = "KEY",
        help_heading = TRUST
    )]
    pub signature_pk_base64: Vec<String>,

    /// The source's signature file [default: INPUT.minisig].
    #[arg(short = 'x', long, value_name = "PATH", help_heading = TRUST)]
    pub source_signature: Option<PathBuf>,

    /// Sign the artifact with this secret key (prefix raw: for a key without a password).
    ///
    /// With --signature-keygen: where to write the secret key.
    #[arg(
        short = 's',
        long = "signature-sk",
        value_name = "[raw:]PATH",
        value_parser = parse_secret_key_spelling,
        help_heading = TRUST
    )]
    pub signature_sk: Option<String>,

    /// Accept legacy (non-prehashed) source signatures, such as Lucet-era ones.
    #[arg(long, help_heading = TRUST)]
    pub allow_legacy_signatures: bool,

    /// Refuse a source signature whose trusted comment names no file.
    ///
    /// The trusted comment's `file:NAME` (as minisign and rsign write it)
    /// must then name INPUT's file. Without this flag the name is checked
    /// whenever the trusted comment has a `file:` field.
    #[arg(long, conflicts_with = "ignore_source_name", help_heading = TRUST)]
    pub require_source_name: bool,

    /// Do not compare the source signature's `file:` with INPUT's file name.
    ///
    /// For a source renamed after it was signed.
    #[arg(long, help_heading = TRUST)]
    pub ignore_source_name: bool,

    /// With --resign or --verify-rebuild and no public key: proceed on an unverified artifact.
    #[arg(long, help_heading = TRUST)]
    pub allow_unverified: bool,

    /// Lucet's flag: verify the source (implied by --signature-pk, an error without it).
    #[arg(long, hide = true)]
    pub signature_verify: bool,

    /// Lucet's flag: sign the artifact (implied by --signature-sk, an error without it).
    #[arg(long, hide = true)]
    pub signature_create: bool,

    /// Refuse a source (INPUT) larger than this, before reading it (e.g. 1G).
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "256M", help_heading = LIMITS)]
    pub max_input_size: u64,

    /// Largest engine image read from ARTIFACT with --resign or --verify-rebuild.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "1G", help_heading = LIMITS)]
    pub max_artifact_size: u64,

    /// Create a key pair at -s/--signature-sk and -p/--signature-pk, then exit.
    ///
    /// The public key and how to verify with it are printed, as minisign -G
    /// does. A password is asked for (twice) unless the secret key's path is
    /// prefixed with raw:.
    #[arg(short = 'G', long, requires_all = ["signature_sk"], conflicts_with_all = ["signature_pk_base64", "source_signature"], help_heading = MODES)]
    pub signature_keygen: bool,

    /// Re-sign ARTIFACT with -s/--signature-sk without recompiling.
    ///
    /// For key rotation and offline signing: ARTIFACT's old signature is
    /// verified against -p/--signature-pk first. Writes to -o, or replaces
    /// ARTIFACT.
    #[arg(long, value_name = "ARTIFACT", conflicts_with_all = ["signature_keygen", "verify_rebuild", "input", "source_signature"], help_heading = MODES)]
    pub resign: Option<PathBuf>,

    /// Add a counter-signature to ARTIFACT with -s/--signature-sk.
    ///
    /// ARTIFACT's signature is verified against -p/--signature-pk first. The
    /// image and every signature already there are kept byte for byte; the
    /// new one says --role and when. Writes to -o, or replaces ARTIFACT.
    #[arg(long, value_name = "ARTIFACT", conflicts_with_all = ["signature_keygen", "verify_rebuild", "resign", "input", "source_signature", "allow_unverified"], help_heading = MODES)]
    pub countersign: Option<PathBuf>,

    /// With --countersign: the role it is made in (a-z, 0-9, -), as trust
    /// policies name it (release, security, ...).
    #[arg(long, value_name = "ROLE", default_value = "release", requires = "countersign", help_heading = MODES)]
    pub role: String,

    /// Recompile INPUT with the settings recorded in ARTIFACT and compare the images.
    ///
    /// The engine images must be identical byte for byte; -p/--signature-pk
    /// verifies ARTIFACT's metadata first.
    #[arg(long, value_name = "ARTIFACT", conflicts_with_all = ["signature_keygen", "source_signature"], help_heading = MODES)]
    pub verify_rebuild: Option<PathBuf>,

    /// Tests only: derive new key passwords with a trivially cheap scrypt cost.
    #[arg(long, hide = true)]
    pub insecure_cheap_kdf: bool,
}

impl Args {
    /// Whether any public key is given, by file (-p) or inline (-P).
    pub fn has_public_keys(&self) -> bool {
        !self.signature_pk.is_empty() || !self.signature_pk_base64.is_empty()
    }

    /// The keys given inline with -P.
    pub fn inline_public_keys(&self) -> Result<Vec<PublicKey>, String> {
        self.signature_pk_base64
            .iter()
            .map(|text| parse_inline_public_key(text))
            .collect()
    }

    /// Combinations clap cannot express, and -P values that are no public
    /// key, as usage errors (exit status 2). Called once
    /// `LUCET_SIGNATURE_PK` has been read into `signature_pk`.
    pub fn check(&self) -> Result<(), clap::Error> {
        use clap::CommandFactory;
        use clap::error::ErrorKind;
        if let Err(message) = self.inline_public_keys() {
            return Err(Args::command().error(ErrorKind::ValueValidation, message));
        }
        match self.misuse() {
            Some((kind, message)) => Err(Args::command().error(kind, message)),
            None => Ok(()),
        }
    }

    /// The first combination of flags that cannot work, and why.
    fn misuse(&self) -> Option<(clap::error::ErrorKind, String)> {
        use clap::error::ErrorKind::{ArgumentConflict, MissingRequiredArgument};
        let needs_key = |flag: &str, why: &str| {
            (
                MissingRequiredArgument,
                format!(
                    "{flag} {why}: give -p/--signature-pk KEY (or -P, or set LUCET_SIGNATURE_PK) too"
                ),
            )
        };
        if self.signature_keygen {
            return self.keygen_misuse();
        }
        if self.min_reserved_size.is_some() || self.max_reserved_size.is_some() {
            return Some((
                ArgumentConflict,
                "--min-reserved-size/--max-reserved-size are Lucet's; wasmtime reserves one size per memory: use --reserved-size".into(),
            ));
        }
        let has_keys = self.has_public_keys();
        if self.signature_verify && !has_keys {
            return Some(needs_key(
                "--signature-verify",
                "verifies the source's signature",
            ));
        }
        if self.signature_create && self.signature_sk.is_none() {
            return Some((
                MissingRequiredArgument,
                "--signature-create signs the artifact: give -s/--signature-sk KEY to sign with"
                    .into(),
            ));
        }
        if (self.require_source_name || self.ignore_source_name) && !has_keys {
            return Some(needs_key(
                "--require-source-name and --ignore-source-name",
                "are about the source's signature",
            ));
        }
        if self.source_signature.is_some() && !has_keys {
            return Some(needs_key(
                "-x/--source-signature",
                "names a signature to verify",
            ));
        }
        if self.resign.is_some() && self.signature_sk.is_none() {
            return Some((
                MissingRequiredArgument,
                "--resign ARTIFACT signs it anew: give -s/--signature-sk KEY to sign with".into(),
            ));
        }
        if self.countersign.is_some() && self.signature_sk.is_none() {
            return Some((
                MissingRequiredArgument,
                "--countersign ARTIFACT adds a signature: give -s/--signature-sk KEY to sign with"
                    .into(),
            ));
        }
        if self.countersign.is_some() && !has_keys {
            return Some(needs_key(
                "--countersign ARTIFACT",
                "vouches for what is already signed, so it verifies ARTIFACT first",
            ));
        }
        if self.verify_rebuild.is_some() && self.input.is_none() {
            return Some((
                MissingRequiredArgument,
                "--verify-rebuild ARTIFACT needs the INPUT to rebuild".into(),
            ));
        }
        None
    }
    /// What cannot work with --signature-keygen, which makes keys only.
    fn keygen_misuse(&self) -> Option<(clap::error::ErrorKind, String)> {
        use clap::error::ErrorKind::{ArgumentConflict, MissingRequiredArgument};
        if let Some(input) = &self.input {
            return Some((
                ArgumentConflict,
                format!(
                    "--signature-keygen only makes keys; drop the input {}",
                    input.display()
                ),
            ));
        }
        (self.signature_pk.len() != 1).then(|| {
            (
                MissingRequiredArgument,
                "--signature-keygen writes the public key to -p/--signature-pk FILE: give exactly one"
                    .into(),
            )
        })
    }
}

/// A `-s/--signature-sk` value: a path, or `raw:` and a path.
fn parse_secret_key_spelling(text: &str) -> Result<String, String> {
    match text.strip_prefix("raw:") {
        Some("") => Err(
            "`raw:` needs the secret key's path after it (--signature-sk=raw:PATH, a key without a password)"
                .into(),
        ),
        None if text.is_empty() => Err("the secret key's path is empty".into()),
        _ => Ok(text.to_string()),
    }
}

/// A `-P` value: a public key's base64 line (`RW...`), as minisign takes it.
/// A path, a secret key or a signature given instead is named as such, and
/// the value is never repeated: it may be a secret key.
fn parse_inline_public_key(text: &str) -> Result<PublicKey, String> {
    PublicKey::from_base64(text).map_err(|error| {
        if let Some(wrong) = lucet_signature::misidentified(text.as_bytes(), ObjectKind::PublicKey) {
            format!("-P/--signature-pk-base64: {wrong}; -P takes a public key's RW... line")
        } else if !text.starts_with("RW") && text.contains(['/', '.']) {
            "-P/--signature-pk-base64 takes the key itself (the RW... line of a .pub file), not a path: give a key file with -p"
                .to_string()
        } else {
            format!("-P/--signature-pk-base64: {error}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }

    /// The public key of the bundled example's publisher.
    const PUBLISHER: &str = "RWSdNxmF2s78QL6AYo9uoLNi9tN8y0ph59ENhDltB6DZlwmu1ZKjk+pq";

    fn parse(argv: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("lucetc").chain(argv.iter().copied())).expect("parses")
    }

    #[test]
    fn minisign_short_flags_mean_what_they_mean_there() {
        let args = parse(&[
            "app.wasm", "-p", "a.pub", "-P", PUBLISHER, "-x", "app.sig", "-s", "raw:k",
        ]);
        assert_eq!(args.signature_pk, [PathBuf::from("a.pub")]);
        assert_eq!(args.signature_pk_base64, [PUBLISHER]);
        assert_eq!(args.source_signature, Some(PathBuf::from("app.sig")));
        assert_eq!(args.signature_sk.as_deref(), Some("raw:k"));
        assert_eq!(args.inline_public_keys().map(|keys| keys.len()), Ok(1));
        assert!(args.check().is_ok());
        let keygen = parse(&["-G", "-f", "-s", "k.key", "-p", "k.pub"]);
        assert!(keygen.signature_keygen && keygen.force);
        assert!(keygen.check().is_ok());
    }

    #[test]
    fn combinations_that_cannot_work_are_usage_errors() {
        for (argv, needle) in [
            (&["-G", "-s", "k.key"][..], "give exactly one"),
            (&["-G", "-s", "k", "-p", "a", "-p", "b"], "give exactly one"),
            (&["-G", "-s", "k", "-p", "a", "app.wat"], "only makes keys"),
            (&["app.wat", "--signature-verify"], "give -p/--signature-pk"),
            (&["app.wat", "--signature-create"], "give -s/--signature-sk"),
            (
                &["app.wat", "--require-source-name"],
                "give -p/--signature-pk",
            ),
            (&["app.wat", "-x", "app.sig"], "give -p/--signature-pk"),
            (
                &["app.wat", "--min-reserved-size", "1M"],
                "use --reserved-size",
            ),
            (&["--resign", "app.so"], "give -s/--signature-sk"),
            (&["app.wat", "-P", "lucet.pub"], "not a path"),
        ] {
            let error = parse(argv).check().expect_err(needle);
            assert_eq!(error.exit_code(), 2, "{argv:?}");
            assert!(error.to_string().contains(needle), "{argv:?}: {error}");
        }
    }

    #[test]
    fn a_secret_key_given_inline_is_named_but_never_repeated() {
        use lucet_signature::{KeyId, SecretKey};
        let key = SecretKey::from_seed(KeyId::from_bytes([3; 8]), &[4; 32]);
        let text = key.to_unencrypted_box();
        let line = text.lines().nth(1).expect("base64 line");
        let error = parse(&["app.wat", "-P", line]).check().expect_err("secret");
        let message = error.to_string();
        assert!(message.contains("a minisign secret key"), "{message}");
        assert!(!message.contains(line), "{message}");
    }

    #[test]
    fn raw_without_a_path_is_refused() {
        let error = Args::try_parse_from(["lucetc", "app.wat", "--signature-sk=raw:"])
            .expect_err("raw: alone");
        assert_eq!(error.exit_code(), 2);
        assert!(
            error
                .to_string()
                .contains("`raw:` needs the secret key's path")
        );
    }
}

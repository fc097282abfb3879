//! `lucet-objdump`: what an artifact is, where it came from, and — once its
//! signature verified — what it imports and exports.
//!
//! With `--signature-pk` it verifies first and exits 1 with the reason if the
//! artifact does not verify, so it doubles as a verify-only gate in deploy
//! pipelines. Without a key, everything it prints is labelled unauthenticated.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use lucet_artifact::{Metadata, hex};
use lucet_objdump::cli::Args;
use lucet_runtime::{LoadOptions, LoadedCode};
use lucet_signature::{KeyId, SignatureBox, escape_for_display};
use serde_json::json;
use wasmtime::ExternType;
use wasmtime::component::types::{ComponentExtern, ComponentItem};

fn main() -> ExitCode {
    let args = lucet_cli::parse::<Args>();
    lucet_cli::exit(
        "lucet-objdump",
        run(&args).map(|()| 0),
        lucet_cli::load_advice,
    )
}

/// What was learnt about the artifact.
struct Report {
    signature: Option<SignatureBox>,
    /// The counter-signatures after it, each with whether it verified.
    countersignatures: Vec<Countersigned>,
    verified: bool,
    metadata: Metadata,
    image_size: usize,
    image_blake2b: String,
    /// Listed only once the artifact is loaded: after its signature
    /// verified, or with `--allow-unverified`.
    interface: Option<Interface>,
}

/// A counter-signature in the block.
struct Countersigned {
    signature: SignatureBox,
    /// Whether it verified against a trusted key (never, without keys).
    verified: bool,
}

/// What loaded code imports and exports.
struct Interface {
    imports: Vec<Item>,
    exports: Vec<Item>,
}

/// One import or export and a description of its type.
struct Item {
    /// The module a core module's import comes from; components and
    /// exports name an item by `name` alone.
    module: Option<String>,
    name: String,
    ty: String,
}

/// Why an unverified artifact's interface is not listed.
const UNVERIFIED_UNLISTED: &str =
    "not listed for an unverified artifact (give --signature-pk, or --allow-unverified)";

fn run(args: &Args) -> Result<()> {
    let path = &args.artifact;
    let file = lucet_signature::file::open_regular_file(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let in_file = || path.display().to_string();
    let report = if args.trust.signature_pk.is_empty() {
        let artifact =
            lucet_artifact::read_unverified(&file, limits(args)).with_context(in_file)?;
        let signature = artifact.signature.clone();
        let countersignatures = artifact.countersignatures.clone();
        extract(
            args,
            &artifact.image,
            signature.as_ref(),
            &countersignatures,
        )?;
        let mut report = Report::of(signature, false, &artifact.metadata, &artifact.image);
        report.countersignatures = countersignatures
            .into_iter()
            .map(|signature| Countersigned {
                signature,
                verified: false,
            })
            .collect();
        if args.allow_unverified {
            let loaded = lucet_runtime::load_unverified_artifact(artifact, LoadOptions::default())
                .with_context(in_file)?;
            report.interface = Some(interface(loaded.code()));
        }
        report
    } else {
        let keys = lucet_signature::read_public_keys(&args.trust.signature_pk)?;
        let artifact =
            lucet_artifact::read_verified(&file, &keys, limits(args)).with_context(in_file)?;
        let signature = Some(artifact.signature().clone());
        let in_block = artifact.countersignatures_in_block();
        extract(args, artifact.image(), signature.as_ref(), in_block)?;
        let mut report = Report::of(signature, true, artifact.metadata(), artifact.image());
        report.countersignatures = in_block
            .iter()
            .enumerate()
            .map(|(position, signature)| Countersigned {
                signature: signature.clone(),
                verified: artifact
                    .countersignatures()
                    .iter()
                    .any(|verified| verified.position() == position),
            })
            .collect();
        let loaded = lucet_runtime::load_verified_artifact(artifact, LoadOptions::default())
            .with_context(in_file)?;
        report.interface = Some(interface(loaded.code()));
        report
    };
    let text = if args.json {
        format!("{}\n", to_json(path, &report))
    } else {
        to_text(path, &report)
    };
    // A reader that stops early (`| head`) is not an error.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("cannot write to standard output"),
    }
}

impl Report {
    /// What reading the artifact told: its signature, metadata and image,
    /// with no imports or exports listed (yet).
    ///
    /// Both readers already hashed the image and refused it unless it
    /// matched the metadata's `image-blake2b`, so that value is the image's
    /// hash; it is not computed a second time.
    fn of(
        signature: Option<SignatureBox>,
        verified: bool,
        metadata: &Metadata,
        image: &[u8],
    ) -> Report {
        Report {
            signature,
            countersignatures: Vec::new(),
            verified,
            metadata: metadata.clone(),
            image_size: image.len(),
            image_blake2b: hex(metadata.image_blake2b.as_bytes()),
            interface: None,
        }
    }
}

/// `--extract-signature DIR`: the image and its signature as separate files.
///
/// DIR may be shared (a build directory, `/tmp`), so nothing in it is
/// followed or replaced: each file is written under a temporary name and
/// linked into place only if its name is free, so a symbolic link planted at
/// `DIR/image.bin` is refused instead of written through, and an earlier
/// extraction is never silently mixed with this one.
fn extract(
    args: &Args,
    image: &[u8],
    signature: Option<&SignatureBox>,
    countersignatures: &[SignatureBox],
) -> Result<()> {
    let Some(dir) = &args.extract_signature else {
        return Ok(());
    };
    let Some(signature) = signature else {
        bail!(
            "{} is not signed: there is no signature to extract",
            args.artifact.display()
        );
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // The image, its signature, then each counter-signature as
    // image.bin.N.minisig: every one a stock minisign signature of image.bin.
    let mut files = vec![
        (dir.join("image.bin"), image.to_vec()),
        (
            dir.join("image.bin.minisig"),
            signature.to_text().into_bytes(),
        ),
    ];
    for (n, countersignature) in countersignatures.iter().enumerate() {
        let path = dir.join(format!("image.bin.{}.minisig", n + 1));
        files.push((path, countersignature.to_text().into_bytes()));
    }
    // All are staged first: a full disk fails before any is visible.
    let staged = files
        .iter()
        .map(|(path, bytes)| stage(path, bytes))
        .collect::<Result<Vec<_>>>()?;
    let mut committed = Vec::new();
    for (staged, (path, _)) in staged.into_iter().zip(&files) {
        if let Err(error) = commit_new(staged, path) {
            // Each was just created by a move that fails if the name is
            // taken, so it is ours to remove: no image is left without
            // all its signatures.
            for path in committed {
                let _ = std::fs::remove_file(path);
            }
            return Err(error);
        }
        committed.push(path);
    }
    Ok(())
}

/// Errors name the directory or the temporary file (`cannot create a
/// temporary file in DIR: ...`).
fn stage(path: &Path, bytes: &[u8]) -> Result<lucet_signature::file::StagedFile> {
    Ok(lucet_signature::file::StagedFile::new(
        path,
        bytes,
        0o644,
        lucet_signature::file::Durability::Synced,
    )?)
}

/// Moves a staged file to `path` unless something (even a dangling symbolic
/// link) is already there.
fn commit_new(staged: lucet_signature::file::StagedFile, path: &Path) -> Result<()> {
    match staged.commit(lucet_signature::file::Existing::Keep) {
        Err(lucet_signature::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            bail!(
                "{} already exists; remove it or give --extract-signature an empty directory",
                path.display()
            )
        }
        result => Ok(result?),
    }
}

impl Item {
    fn new(module: Option<&str>, name: &str, ty: String) -> Item {
        Item {
            module: module.map(str::to_string),
            name: name.to_string(),
            ty,
        }
    }
}

/// The loaded code's imports and exports: a module's by module and name,
/// a component's by name (an interface such as `wasi:cli/run@0.2.6`).
fn interface(code: &LoadedCode) -> Interface {
    match code {
        LoadedCode::Module(module) => Interface {
            imports: module
                .imports()
                .map(|i| Item::new(Some(i.module()), i.name(), describe(&i.ty())))
                .collect(),
            exports: module
                .exports()
                .map(|e| Item::new(None, e.name(), describe(&e.ty())))
                .collect(),
        },
        LoadedCode::Component(component) => {
            let ty = component.component_type();
            let engine = component.engine();
            let item = |(name, item): (&str, ComponentExtern)| {
                Item::new(None, name, component_item_kind(&item.ty).to_string())
            };
            Interface {
                imports: ty.imports(engine).map(item).collect(),
                exports: ty.exports(engine).map(item).collect(),
            }
        }
    }
}

/// A component item's kind, written as in the component text format.
fn component_item_kind(item: &ComponentItem) -> &'static str {
    match item {
        ComponentItem::ComponentInstance(_) => "(instance)",
        ComponentItem::ComponentFunc(_) => "(func)",
        ComponentItem::CoreFunc(_) => "(core func)",
        ComponentItem::Module(_) => "(core module)",
        ComponentItem::Component(_) => "(component)",
        ComponentItem::Type(_) => "(type)",
        ComponentItem::Resource(_) => "(resource)",
    }
}

fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(func) => func.to_string(),
        ExternType::Global(global) => format!(
            "(global {}{})",
            if global.mutability() == wasmtime::Mutability::Var {
                "mut "
            } else {
                ""
            },
            global.content()
        ),
        ExternType::Table(table) => format!(
            "(table {}{} {})",
            table.minimum(),
            table.maximum().map(|m| format!(" {m}")).unwrap_or_default(),
            table.element()
        ),
        ExternType::Memory(memory) => format!(
            "(memory {}{}{}{})",
            if memory.is_64() { "i64 " } else { "" },
            memory.minimum(),
            memory
                .maximum()
                .map(|m| format!(" {m}"))
                .unwrap_or_default(),
            if memory.is_shared() { " shared" } else { "" }
        ),
        ExternType::Tag(_) => "(tag)".to_string(),
    }
}

fn key_id(report: &Report) -> Option<KeyId> {
    report.signature.as_ref().map(SignatureBox::key_id)
}

/// The metadata fields, names as in the artifact; free text escaped for a terminal.
fn limits(args: &Args) -> lucet_artifact::ReadLimits {
    lucet_artifact::ReadLimits {
        max_image_len: args.max_artifact_size,
    }
}

fn metadata_fields(metadata: &Metadata) -> Vec<(&'static str, String)> {
    vec![
        ("kind", metadata.kind.to_string()),
        ("name", escape_for_display(&metadata.name)),
        ("image-len", metadata.image_len.to_string()),
        ("image-blake2b", hex(metadata.image_blake2b.as_bytes())),
        ("source-blake2b", hex(metadata.source_blake2b.as_bytes())),
        (
            "source-key",
            metadata
                .source_key
                .map_or_else(|| "none".into(), |k| k.to_string()),
        ),
        ("engine", escape_for_display(&metadata.engine)),
        ("target", escape_for_display(&metadata.target)),
        ("cpu", escape_for_display(&metadata.cpu)),
        ("settings", escape_for_display(&metadata.settings)),
        ("timestamp", metadata.timestamp.to_string()),
        (
            "comment",
            metadata
                .comment
                .as_deref()
                .map(escape_for_display)
                .unwrap_or_default(),
        ),
    ]
}

fn to_text(path: &Path, report: &Report) -> String {
    let mut out = String::new();
    let mut line = |name: &str, value: &str| out.push_str(&format!("{name:<16}{value}\n"));
    line("artifact:", &path.display().to_string());
    line(
        "signed:",
        &match key_id(report) {
            Some(id) => format!("yes, key {id}"),
            None => "no".to_string(),
        },
    );
    for countersigned in &report.countersignatures {
        let status = match (report.verified, countersigned.verified) {
            (false, _) => "NOT VERIFIED",
            (true, true) => "verified",
            (true, false) => "not verified (key not trusted)",
        };
        line(
            "countersigned:",
            &format!(
                "key {}, {status}: {}",
                countersigned.signature.key_id(),
                escape_for_display(countersigned.signature.trusted_comment())
            ),
        );
    }
    line(
        "verified:",
        if report.verified {
            "yes: everything below is authenticated by that trusted key"
        } else {
            "NOT VERIFIED (no --signature-pk): everything below is unauthenticated"
        },
    );
    line(
        "image:",
        &format!(
            "{} bytes (its BLAKE2b-512 matches image-blake2b)",
            report.image_size
        ),
    );
    for (name, value) in metadata_fields(&report.metadata) {
        line(&format!("{name}:"), &value);
    }
    let label = if report.verified { "" } else { " (UNVERIFIED)" };
    match &report.interface {
        Some(interface) => {
            for (heading, items) in [
                ("imports", &interface.imports),
                ("exports", &interface.exports),
            ] {
                out.push_str(&format!("{heading}{label}:\n"));
                for item in items {
                    out.push_str(&format!("  {}\n", item_line(item)));
                }
            }
        }
        None => out.push_str(&format!("imports/exports: {UNVERIFIED_UNLISTED}\n")),
    }
    out
}

/// `module::name type`, or `name type`; names escaped for a terminal.
fn item_line(item: &Item) -> String {
    let name = escape_for_display(&item.name);
    match &item.module {
        Some(module) => format!("{}::{name} {}", escape_for_display(module), item.ty),
        None => format!("{name} {}", item.ty),
    }
}

/// `{module, name, type}`, or `{name, type}` when there is no module.
fn item_json(item: &Item) -> serde_json::Value {
    let mut value = json!({"name": item.name, "type": item.ty});
    if let Some(module) = &item.module {
        value["module"] = json!(module);
    }
    value
}

fn to_json(path: &Path, report: &Report) -> serde_json::Value {
    let metadata: serde_json::Map<String, serde_json::Value> = metadata_fields(&report.metadata)
        .into_iter()
        .map(|(name, value)| (name.to_string(), json!(value)))
        .collect();
    json!({
        "artifact": path.display().to_string(),
        "signed": report.signature.is_some(),
        "verified": report.verified,
        "key_id": key_id(report).map(|k| k.to_string()),
        "countersignatures": report.countersignatures.iter().map(|c| json!({
            "key_id": c.signature.key_id().to_string(),
            "trusted_comment": c.signature.trusted_comment(),
            "verified": c.verified,
        })).collect::<Vec<_>>(),
        "metadata": metadata,
        "image_size": report.image_size,
        "image_blake2b": report.image_blake2b,
        "imports": report.interface.as_ref().map(|i| i.imports.iter().map(item_json).collect::<Vec<_>>()),
        "exports": report.interface.as_ref().map(|i| i.exports.iter().map(item_json).collect::<Vec<_>>()),
    })
}

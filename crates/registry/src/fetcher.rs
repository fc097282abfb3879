//! `oci://REF` for a runner that does not link the registry client:
//! lucet-wasi, whose every start pays for what it links (the client, HTTP
//! and TLS, is a third of the data the loader relocates before `main`,
//! `oci://` or not: BENCHMARKS.md, P5). `lucet-oci fetch REF`, installed
//! beside the runner and run as a process of its own, fills the cache
//! ([`Cache::fetch`](crate::Cache::fetch)); the runner then opens and
//! re-hashes the file it names, as [`open_oci`](crate::open_oci) does.
//!
//! The fetcher's answer is trusted no more than the registry's: the digest
//! it prints must be a digest before it names a file, the file must have
//! it, a pinned REF must come back with its own manifest digest, and the
//! runner verifies the file. The fetcher itself is a program the runner
//! executes, so it must be installed as the runner is.

use std::io::Read;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::cache::{CachedArtifact, cache_error};
use crate::{Cache, Error, RegistryOptions};

/// The program [`open_oci_with_fetcher`] runs, from the runner's directory.
pub const FETCHER: &str = "lucet-oci";

/// What the runner keeps of each of the fetcher's output streams. It prints
/// one short line; a broken or hostile fetcher must not fill the runner's
/// memory.
const OUTPUT_CAP: u64 = 64 * 1024;

/// The artifact an `oci://REF` argument names, fetched by the [`FETCHER`]
/// installed beside `runner` (the running program's own path) into the
/// default cache, then opened and re-hashed here. The caller verifies it.
pub fn open_oci_with_fetcher(
    runner: &Path,
    reference: &str,
    options: &RegistryOptions,
    max_size: u64,
) -> Result<CachedArtifact, Error> {
    let fetcher = runner.with_file_name(FETCHER);
    let failed = |message: String| Error::Fetch {
        reference: reference.to_string(),
        fetcher: fetcher.clone(),
        message,
    };
    check_installed_like(&fetcher, runner).map_err(failed)?;
    let mut command = Command::new(&fetcher);
    for host in &options.insecure_registries {
        // One argument: a host starting with `-` is still a value.
        command.arg(format!("--insecure-registry={host}"));
    }
    command
        .args(["fetch", "--max-artifact-size", &max_size.to_string(), "--"])
        .arg(reference)
        .stdin(Stdio::null());
    let output =
        output_capped(&mut command).map_err(|error| failed(format!("cannot run it: {error}")))?;
    if !output.status.success() {
        return Err(failed(complaint(&output)));
    }
    let (digest, pinned) = fetched(&output.stdout, reference).map_err(failed)?;
    let cache = Cache::at_default_location(reference)?;
    let file = cache.open_matching(digest)?.ok_or_else(|| {
        cache_error(
            &cache.path_of(digest),
            "it does not have the digest it was fetched with: run again",
        )
    })?;
    Ok(CachedArtifact {
        file,
        digest: digest.to_string(),
        pinned: pinned.to_string(),
    })
}

/// `command` run to its end, with at most [`OUTPUT_CAP`] bytes of its
/// stdout and of its stderr kept. The rest is read and dropped, so the
/// fetcher never blocks on a full pipe.
fn output_capped(command: &mut Command) -> std::io::Result<Output> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (stdout, stderr) = std::thread::scope(|scope| {
        let stderr = scope.spawn(|| read_capped(stderr));
        let stdout = read_capped(stdout);
        let stderr = stderr
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (stdout, stderr)
    });
    // Waited for before a read error is returned: no zombie either way.
    let status = child.wait()?;
    Ok(Output {
        status,
        stdout: stdout?,
        stderr: stderr?,
    })
}

fn read_capped(stream: Option<impl Read>) -> std::io::Result<Vec<u8>> {
    let mut kept = Vec::new();
    if let Some(mut stream) = stream {
        (&mut stream).take(OUTPUT_CAP).read_to_end(&mut kept)?;
        std::io::copy(&mut stream, &mut std::io::sink())?;
    }
    Ok(kept)
}

/// The fetcher must be installed as the runner is: a regular file, owned by
/// the runner's owner (or root), that nobody else may write. Otherwise a
/// copy of the runner in a shared directory such as /tmp would run whatever
/// another user put beside it.
fn check_installed_like(fetcher: &Path, runner: &Path) -> Result<(), String> {
    let install = format!("install {FETCHER} beside this runner, as its owner");
    let fetcher_meta = match std::fs::metadata(fetcher) {
        Ok(meta) => meta,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "it is not installed there: {install}, or pull with `{FETCHER} pull` and run the file"
            ));
        }
        Err(error) => return Err(format!("cannot read it: {error}")),
    };
    let runner_owner = std::fs::metadata(runner)
        .map_err(|error| format!("cannot read this runner's own file: {error}"))?
        .uid();
    if !fetcher_meta.is_file() {
        return Err(format!("it is not a regular file: {install}"));
    }
    if fetcher_meta.uid() != runner_owner && fetcher_meta.uid() != 0 {
        return Err(format!(
            "it belongs to user {}, this runner to user {runner_owner}: {install}",
            fetcher_meta.uid()
        ));
    }
    if fetcher_meta.mode() & 0o022 != 0 {
        return Err(format!(
            "others may write it (mode {:o}): {install}, not group- or world-writable",
            fetcher_meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// The one line the fetcher prints, `DIGEST PINNED`: a layer digest fit to
/// name a cache file, and, when REF pins a manifest, that same manifest.
fn fetched<'a>(stdout: &'a [u8], reference: &str) -> Result<(&'a str, &'a str), String> {
    let line = std::str::from_utf8(stdout)
        .ok()
        .and_then(|text| text.strip_suffix('\n'))
        .filter(|line| !line.contains('\n'));
    let fields = line.and_then(|line| line.split_once(' '));
    let Some((digest, pinned)) = fields.filter(|(_, pinned)| !pinned.contains(' ')) else {
        return Err(format!(
            "it printed {:?}, not one line DIGEST PINNED-REFERENCE",
            String::from_utf8_lossy(stdout)
        ));
    };
    if !is_sha256_digest(digest) {
        return Err(format!("it printed {digest:?}, not a sha256 digest"));
    }
    if let Some((_, asked)) = reference.rsplit_once('@')
        && pinned.rsplit_once('@').map(|(_, got)| got) != Some(asked)
    {
        return Err(format!("it fetched {pinned}, not the manifest {asked}"));
    }
    Ok((digest, pinned))
}

/// The fetcher's own error line (without its name), and how it ended: its
/// `lucet-oci: ...` or clap's `error: ...` line, or a panic's, else its
/// last line.
fn complaint(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines = || {
        stderr
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
    };
    let own_prefix = format!("{FETCHER}: ");
    let line = lines()
        .find(|line| {
            line.starts_with(&own_prefix)
                || line.starts_with("error:")
                || line.contains("panicked at")
        })
        .or_else(|| lines().next_back());
    match line {
        Some(line) => {
            let line = line.strip_prefix(&own_prefix).unwrap_or(line);
            format!("{line} ({})", output.status)
        }
        None => format!("it said nothing ({})", output.status),
    }
}

/// `sha256:` and 64 lowercase hex digits: what a cache path may be made of.
fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn the_fetchers_line_is_one_digest_and_one_reference() {
        let line = format!("{DIGEST} reg.example/apps/hello@sha256:aa\n");
        let (digest, pinned) =
            fetched(line.as_bytes(), "reg.example/apps/hello:1.0").expect("a good line");
        assert_eq!(
            (digest, pinned),
            (DIGEST, "reg.example/apps/hello@sha256:aa")
        );
        // Pinned: the manifest asked for must come back.
        fetched(line.as_bytes(), "reg.example/apps/hello@sha256:aa").expect("the same manifest");
        let other = fetched(line.as_bytes(), "reg.example/apps/hello@sha256:bb")
            .expect_err("another manifest");
        assert!(other.contains("not the manifest sha256:bb"), "{other}");

        for bad in [
            "".to_string(),
            format!("{DIGEST} reg.example/apps/hello@sha256:aa"),
            format!("{DIGEST} reg.example/apps/hello@sha256:aa\n{DIGEST} x\n"),
            format!("{DIGEST} reg.example/apps/hello@sha256:aa extra\n"),
            format!("{DIGEST}\n"),
            "sha256:../../../etc/passwd x\n".to_string(),
            format!("{} x\n", DIGEST.to_uppercase()),
            format!("{}0 x\n", DIGEST),
        ] {
            fetched(bad.as_bytes(), "reg.example/apps/hello:1.0").expect_err(&bad);
        }
    }

    #[test]
    fn the_fetchers_output_is_capped_and_read_to_its_end() {
        let mut flood = Command::new("sh");
        flood.args(["-c", "head -c 1000000 /dev/zero; echo done >&2; exit 3"]);
        let output = output_capped(&mut flood).expect("run sh");
        assert_eq!(output.stdout.len() as u64, OUTPUT_CAP);
        assert_eq!(output.stderr, b"done\n");
        assert_eq!(output.status.code(), Some(3));
    }

    #[test]
    fn the_fetchers_complaint_is_its_error_line_not_its_last() {
        use std::os::unix::process::ExitStatusExt as _;
        let ended = |stderr: &str, code: i32| Output {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
        };
        // An older lucet-oci, without `fetch`: clap's error line, not its hint.
        let clap = "error: unrecognized subcommand 'fetch'\n\nUsage: lucet-oci <COMMAND>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            complaint(&ended(clap, 2)),
            "error: unrecognized subcommand 'fetch' (exit status: 2)"
        );
        let own = "lucet-oci: reg.example/apps/hello:1.0: Connection refused\n";
        assert_eq!(
            complaint(&ended(own, 1)),
            "reg.example/apps/hello:1.0: Connection refused (exit status: 1)"
        );
        assert_eq!(complaint(&ended("", 1)), "it said nothing (exit status: 1)");
        assert_eq!(complaint(&ended("odd\nlast\n", 3)), "last (exit status: 3)");
    }
}

//! Which directories a guest gets: the container's volumes, each at its
//! mount point, as `lucet-wasi --dir` gives them. Never the container's
//! root: the guest runs in the container's init process itself, so the
//! root's `/proc/self` is the runtime (its `mem` would let a signed guest
//! that writes where it is told overwrite verified code with unverified
//! code; its `environ` is containerd's environment). Never `/proc`, `/sys`
//! or `/dev`, nor a mount of a kernel file system anywhere.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// Where the mounts of the process's own mount namespace are listed.
const MOUNTINFO: &str = "/proc/self/mountinfo";

/// File systems that are the kernel's, not data: never a guest directory,
/// wherever they are mounted.
const KERNEL_FILE_SYSTEMS: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "mqueue",
    "cgroup",
    "cgroup2",
    "securityfs",
    "debugfs",
    "tracefs",
    "bpf",
    "configfs",
    "fusectl",
    "pstore",
    "binfmt_misc",
    "autofs",
    "hugetlbfs",
    "efivarfs",
    "nsfs",
];

/// Trees of the container's root that are the kernel's or the runtime's.
const KERNEL_TREES: &[&str] = &["/proc", "/sys", "/dev"];

/// The container's volumes (directory mounts other than its root), each
/// preopened at its own path.
pub fn guest_directories() -> Result<Vec<(PathBuf, String)>> {
    let table =
        std::fs::read_to_string(MOUNTINFO).with_context(|| format!("cannot read {MOUNTINFO}"))?;
    Ok(volumes(&table)
        .into_iter()
        .filter(|path| std::path::Path::new(path).is_dir())
        .map(|path| (PathBuf::from(&path), path))
        .collect())
}

/// The mount points in a mountinfo `table` a guest may have.
fn volumes(table: &str) -> Vec<String> {
    let mut points: Vec<String> = table
        .lines()
        .filter_map(|line| {
            let (mount, filesystem) = line.split_once(" - ")?;
            let point = unescape(mount.split(' ').nth(4)?);
            let fstype = filesystem.split(' ').next()?;
            let kernel_tree = KERNEL_TREES
                .iter()
                .any(|tree| point == *tree || point.starts_with(&format!("{tree}/")));
            let wanted = point != "/" && !kernel_tree && !KERNEL_FILE_SYSTEMS.contains(&fstype);
            wanted.then_some(point)
        })
        .collect();
    points.sort();
    points.dedup();
    points
}

/// A mountinfo field with its octal escapes (`\040` for a space) undone.
fn unescape(field: &str) -> String {
    let mut bytes = Vec::with_capacity(field.len());
    let raw = field.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        let octal = raw.get(i + 1..i + 4).and_then(|digits| {
            std::str::from_utf8(digits)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (raw[i], octal) {
            (b'\\', Some(byte)) => {
                bytes.push(byte);
                i += 4;
            }
            (byte, _) => {
                bytes.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A container's mounts as libcontainer makes them, with a volume, a
    /// secret, a bind mount of the host's /proc and a space in a name.
    const TABLE: &str = "\
600 500 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
601 600 0:51 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
602 600 0:52 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
603 602 0:53 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw
604 600 0:54 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
605 600 8:1 /srv/data /data rw,relatime - ext4 /dev/vda1 rw
606 600 0:60 / /var/run/secrets/token ro,relatime - tmpfs tmpfs rw
607 600 0:51 / /host-proc rw,relatime - proc proc rw
608 600 8:1 /srv/my\\040files /my\\040files rw,relatime - ext4 /dev/vda1 rw
609 602 0:55 / /dev/shm rw - tmpfs shm rw
";

    #[test]
    fn only_volumes_are_guest_directories() {
        assert_eq!(
            volumes(TABLE),
            ["/data", "/my files", "/var/run/secrets/token"]
        );
    }

    #[test]
    fn malformed_lines_are_skipped() {
        assert!(volumes("garbage\n1 2 3\n - \n").is_empty());
    }
}

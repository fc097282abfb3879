//! Helpers shared by the benchmark harnesses (`verify-throughput`, `suite`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::time::Duration;

use anyhow::Result;

pub mod args;
pub mod fixture;
pub mod report;

/// The median of `times`, `None` when empty.
pub fn median(times: &[Duration]) -> Option<Duration> {
    let mut times = times.to_vec();
    times.sort();
    let n = times.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => times.get(n / 2).copied(),
        _ => Some((*times.get(n / 2 - 1)? + *times.get(n / 2)?) / 2),
    }
}

/// The 1-, 5- and 15-minute load averages, to show how quiet a run was.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| {
            let fields: Vec<&str> = s.split_whitespace().take(3).collect();
            (fields.len() == 3).then(|| fields.join(" "))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The CPU, from `/proc/cpuinfo`: its model name, family and model (which
/// BLAKE2b-512 implementation is fastest depends on them).
pub fn cpu_description() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|line| line.split(':').next().is_some_and(|key| key.trim() == name))
            .and_then(|line| line.split_once(':'))
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned())
    };
    format!(
        "{}, family {}, model {}, {} logical CPUs",
        field("model name"),
        field("cpu family"),
        field("model"),
        std::thread::available_parallelism().map_or(0, usize::from)
    )
}

/// SplitMix64: cheap, deterministic, and incompressible enough that nothing
/// on the way (page cache, filesystem) can shortcut the data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `len` bytes from SplitMix64 with a fixed seed: the same every run.
pub fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut rng = SplitMix64(0x6C75_6365_742D_6265); // "lucet-be"
    let mut data = vec![0u8; len];
    let mut words = data.chunks_exact_mut(8);
    for word in &mut words {
        word.copy_from_slice(&rng.next().to_le_bytes());
    }
    let tail = words.into_remainder();
    let last = rng.next().to_le_bytes();
    tail.copy_from_slice(last.get(..tail.len()).unwrap_or_default());
    data
}

/// A WebAssembly command whose memory is initialised with `data` (one
/// active data segment at address 0) and whose `_start` returns at once:
/// its compiled image holds `data`, so its size is set by `data`'s. Encoded
/// directly, as text would be three times the size of the data.
pub fn wasm_with_data(data: &[u8]) -> Vec<u8> {
    fn leb(mut value: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(body.len(), out);
        out.extend_from_slice(body);
    }
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    // Types: one, `() -> ()`. Functions: one, of that type.
    section(1, &[1, 0x60, 0, 0], &mut wasm);
    section(3, &[1, 0], &mut wasm);
    // Memory: one, its minimum the data's pages plus one.
    let mut memory = vec![1, 0];
    leb(data.len().div_ceil(65536) + 1, &mut memory);
    section(5, &memory, &mut wasm);
    // Exports: "memory" (memory 0) and "_start" (function 0).
    let mut exports = vec![2, 6];
    exports.extend_from_slice(b"memory");
    exports.extend_from_slice(&[2, 0, 6]);
    exports.extend_from_slice(b"_start");
    exports.extend_from_slice(&[0, 0]);
    section(7, &exports, &mut wasm);
    // Code: one body, no locals, `end`.
    section(10, &[1, 2, 0, 0x0b], &mut wasm);
    // Data: one active segment at `i32.const 0`.
    let mut segment = vec![1, 0, 0x41, 0, 0x0b];
    leb(data.len(), &mut segment);
    wasm.push(11);
    leb(segment.len() + data.len(), &mut wasm);
    wasm.extend_from_slice(&segment);
    wasm.extend_from_slice(data);
    wasm
}

/// Memory a measured operation used: how far this process's peak resident
/// set grew during it, and what it left in anonymous memory files (Linux
/// `memfd`s such as a sealed image), which the resident set counts only
/// where they are mapped and touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUse {
    /// Peak resident set during the operation, less the resident set before it.
    pub peak_rss_growth: u64,
    /// Bytes in this process's memory files after the operation.
    pub memory_files: u64,
}

/// Runs `f` and reports its [`MemoryUse`] (`None` where `/proc` does not
/// tell): the peak resident set is reset first through
/// `/proc/self/clear_refs`, and memory files are found in `/proc/self/fd`.
/// Call it with what `f` returns still alive, to count what it holds.
pub fn memory_use<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Option<MemoryUse>)> {
    let before = status_kib("VmRSS:");
    // "5" resets the peak resident set ("VmHWM") to the current one.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let value = f()?;
    let peak = status_kib("VmHWM:");
    let usage = match (reset, before, peak) {
        (true, Some(before), Some(peak)) => Some(MemoryUse {
            peak_rss_growth: peak.saturating_sub(before) * 1024,
            memory_files: memory_file_bytes(),
        }),
        _ => None,
    };
    Ok((value, usage))
}

/// A `kB` field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Total size of the memory files this process has open.
fn memory_file_bytes() -> u64 {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    fds.filter_map(|fd| fd.ok().map(|fd| fd.path()))
        .filter(|fd| {
            std::fs::read_link(fd)
                .is_ok_and(|target| target.to_string_lossy().starts_with("/memfd:"))
        })
        .filter_map(|fd| std::fs::metadata(fd).ok())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_use_sees_a_large_allocation() {
        let (bytes, usage) = memory_use(|| Ok(vec![1u8; 64 << 20])).expect("measured");
        let usage = usage.expect("Linux reports memory use");
        assert!(usage.peak_rss_growth >= 60 << 20, "{usage:?}");
        drop(bytes);
    }

    #[test]
    fn wasm_with_data_is_a_valid_command() {
        let data = pseudo_random_bytes(200_001);
        let wasm = wasm_with_data(&data);
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, &wasm).expect("valid module");
        assert!(module.get_export("_start").is_some());
        assert!(module.get_export("memory").is_some());
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instance");
        let memory = instance.get_memory(&mut store, "memory").expect("memory");
        assert_eq!(memory.data(&store).get(..data.len()), Some(&data[..]));
    }

    #[test]
    fn medians() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), Some(ms(2)));
        assert_eq!(
            median(&[ms(4), ms(1), ms(2), ms(3)]),
            Some(Duration::from_micros(2500))
        );
    }
}

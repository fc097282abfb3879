//! Helpers shared by the benchmark harnesses (`verify-throughput`, `suite`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::ffi::OsString;
use std::time::Duration;

use anyhow::{Context, Result};

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

/// Parses the value of option `name` as a number.
pub fn parse_number<T: std::str::FromStr>(value: &OsString, name: &str) -> Result<T> {
    value
        .to_str()
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("{name} needs a non-negative integer, not {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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

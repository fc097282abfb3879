//! Parsing of the sizes and durations given on command lines.

use crate::Error;

/// Parses a byte size: a plain integer is bytes; the suffixes `K`/`KiB`,
/// `M`/`MiB` and `G`/`GiB` (any case) are binary multiples. Anything else,
/// including overflow, is an error.
pub fn parse_size(text: &str) -> Result<u64, Error> {
    let bad = || Error::InvalidSize(text.to_string());
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(bad());
    }
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return Err(bad()),
    };
    let value: u64 = digits.parse().map_err(|_| bad())?;
    value.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// Parses a duration such as `500ms`, `2s` or `1m`. A unit is required.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, Error> {
    use std::time::Duration;
    let bad = || Error::InvalidDuration(text.to_string());
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let value: u64 = digits.parse().map_err(|_| bad())?;
    let duration = match unit {
        "ms" => Duration::from_millis(value),
        "s" => Duration::from_secs(value),
        "m" => Duration::from_secs(value.checked_mul(60).ok_or_else(bad)?),
        "h" => Duration::from_secs(value.checked_mul(3600).ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    if duration.is_zero() {
        return Err(bad());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096").ok(), Some(4096));
        assert_eq!(parse_size("4k").ok(), Some(4096));
        assert_eq!(parse_size("4KiB").ok(), Some(4096));
        assert_eq!(parse_size("2m").ok(), Some(2 << 20));
        assert_eq!(parse_size("2MIB").ok(), Some(2 << 20));
        assert_eq!(parse_size("1G").ok(), Some(1 << 30));
        for bad in [
            "",
            "k",
            "1.5M",
            "1 M",
            "1MB",
            "-1",
            "1T",
            "99999999999999999999",
            "17179869184G",
        ] {
            assert!(parse_size(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(
            parse_duration("500ms").ok(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_duration("2s").ok(), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m").ok(), Some(Duration::from_secs(60)));
        for bad in ["", "5", "0s", "s", "1.5s", "1d", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }
}

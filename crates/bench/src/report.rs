//! Tables, number formats and timing helpers of the `suite` harness.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::median;

/// Output: plain text or markdown tables, collected then printed.
#[derive(Debug)]
pub struct Report {
    markdown: bool,
    text: String,
}

impl Report {
    /// An empty report, in markdown or plain text.
    pub fn new(markdown: bool) -> Report {
        Report {
            markdown,
            text: String::new(),
        }
    }

    /// A section heading.
    pub fn heading(&mut self, title: &str) {
        if self.markdown {
            let _ = write!(self.text, "\n#### {title}\n\n");
        } else {
            let _ = write!(self.text, "\n== {title}\n");
        }
    }

    /// A table: its column headers and rows of cells.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        if self.markdown {
            self.markdown_table(header, rows);
        } else {
            self.text_table(header, rows);
        }
    }

    fn markdown_table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        let _ = writeln!(self.text, "| {} |", header.join(" | "));
        let align: Vec<&str> = header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---" } else { "--:" })
            .collect();
        let _ = writeln!(self.text, "|{}|", align.join("|"));
        for row in rows {
            let _ = writeln!(self.text, "| {} |", row.join(" | "));
        }
    }

    fn text_table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
        for row in rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
        };
        let _ = writeln!(self.text, "{}", line(header.to_vec()));
        for row in rows {
            let _ = writeln!(
                self.text,
                "{}",
                line(row.iter().map(String::as_str).collect())
            );
        }
    }

    /// A line of text (a paragraph in markdown).
    pub fn line(&mut self, text: &str) {
        let _ = writeln!(self.text, "{}{text}", if self.markdown { "\n" } else { "" });
    }

    /// Prints what was collected so far.
    pub fn flush(&mut self) {
        print!("{}", self.text);
        self.text.clear();
    }
}

/// Microseconds, one decimal.
pub fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

/// Milliseconds, two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// `a / b`, two decimals; `n/a` when `b` is zero.
pub fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        "n/a".into()
    } else {
        format!("{:.2}", a.as_secs_f64() / b.as_secs_f64())
    }
}

/// A verdict cell.
pub fn yes_no(ok: bool) -> &'static str {
    if ok { "yes" } else { "no" }
}

/// The `p` quantile of `times` (nearest rank), `None` when empty.
pub fn percentile(times: &[Duration], p: f64) -> Option<Duration> {
    let mut times = times.to_vec();
    times.sort();
    let last = times.len().checked_sub(1)?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let index = ((last as f64) * p).round() as usize;
    times.get(index.min(last)).copied()
}

/// The median of `times`, an error when there are none.
pub fn median_of(times: &[Duration]) -> Result<Duration> {
    median(times).context("no samples")
}

/// The median time of `n` calls of `f` (at least one).
pub fn time_n(n: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
    }
    median_of(&times)
}

/// The geometric mean of `ratios`, `None` when empty.
pub fn geo_mean(ratios: &[f64]) -> Option<f64> {
    if ratios.is_empty() {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let n = ratios.len() as f64;
    Some((ratios.iter().map(|r| r.ln()).sum::<f64>() / n).exp())
}

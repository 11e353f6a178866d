//! Latency statistics: per-stage samples in bounded buffers, summarised as
//! median and 99th percentile.

use serde::Serialize;

/// Most samples kept per stage (the oldest are overwritten).
const MAX_SAMPLES: usize = 16_384;

/// Samples of one stage, in milliseconds.
#[derive(Debug, Clone)]
pub struct Samples {
    values: Vec<f64>,
    next: usize,
    count: u64,
}

impl Default for Samples {
    fn default() -> Self {
        Self {
            values: Vec::with_capacity(MAX_SAMPLES),
            next: 0,
            count: 0,
        }
    }
}

/// Median and p99 of a stage.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub median_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
}

impl Samples {
    /// Records one sample (no allocation once the buffer is full-sized).
    pub fn push(&mut self, ms: f64) {
        if self.values.len() < MAX_SAMPLES {
            self.values.push(ms);
        } else {
            self.values[self.next] = ms;
            self.next = (self.next + 1) % MAX_SAMPLES;
        }
        self.count += 1;
    }

    /// Median, p99 (nearest rank) and mean of the kept samples.
    pub fn summary(&self) -> Summary {
        let mut v = self.values.clone();
        summarise(&mut v, self.count)
    }

    /// The same of the newest `n` samples only (a live view), sorted in
    /// `scratch` (no allocation once it has grown to `n`); `count` is
    /// still every sample recorded.
    pub fn recent(&self, n: usize, scratch: &mut Vec<f64>) -> Summary {
        let n = n.min(self.values.len());
        scratch.clear();
        if self.values.len() < MAX_SAMPLES {
            scratch.extend_from_slice(&self.values[self.values.len() - n..]);
        } else {
            // A full ring: `values[..next]` are the newest samples,
            // `values[next..]` the older ones.
            let (newest, older) = self.values.split_at(self.next);
            let a = n.min(newest.len());
            scratch.extend_from_slice(&older[older.len() - (n - a)..]);
            scratch.extend_from_slice(&newest[newest.len() - a..]);
        }
        summarise(scratch, self.count)
    }
}

/// Sorts `v` and summarises it.
fn summarise(v: &mut [f64], count: u64) -> Summary {
    v.sort_by(f64::total_cmp);
    let rank = |q: f64| -> f64 {
        if v.is_empty() {
            return 0.0;
        }
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    };
    let median = if v.is_empty() {
        0.0
    } else if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    Summary {
        count,
        median_ms: median,
        p99_ms: rank(0.99),
        mean_ms: if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        },
    }
}

impl Default for Summary {
    fn default() -> Self {
        Samples::default().summary()
    }
}

/// The stage table of a report: a header and one row per stage with its
/// median and p99, names left-aligned in a column wide enough for the
/// longest (at least 14 characters), one line each, ending in a newline.
pub fn stage_table(rows: &[(&str, &Summary)]) -> String {
    let width = rows
        .iter()
        .map(|(name, _)| name.len() + 1)
        .max()
        .unwrap_or(0)
        .max(14);
    let mut s = format!("{:<width$}{:>10}{:>10}\n", "stage", "median ms", "p99 ms");
    for (name, v) in rows {
        s.push_str(&format!(
            "{name:<width$}{:>10.3}{:>10.3}\n",
            v.median_ms, v.p99_ms
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p99_of_known_samples() {
        let mut s = Samples::default();
        for i in 1..=100 {
            s.push(f64::from(i));
        }
        let sum = s.summary();
        assert_eq!(sum.median_ms, 50.5);
        assert_eq!(sum.p99_ms, 99.0);
        assert_eq!(sum.count, 100);
        s.push(1000.0);
        assert_eq!(s.summary().median_ms, 51.0);
        let mut scratch = Vec::new();
        let r = s.recent(3, &mut scratch);
        assert_eq!((r.count, r.median_ms, r.p99_ms), (101, 100.0, 1000.0));
    }

    #[test]
    fn recent_samples_of_a_full_ring_are_the_newest() {
        let mut s = Samples::default();
        for i in 0..MAX_SAMPLES + 10 {
            s.push(i as f64);
        }
        let mut scratch = Vec::new();
        // The newest 21: MAX_SAMPLES - 11 ..= MAX_SAMPLES + 9, across the
        // ring's wrap.
        let r = s.recent(21, &mut scratch);
        assert_eq!(r.median_ms, (MAX_SAMPLES - 1) as f64);
        assert_eq!(r.p99_ms, (MAX_SAMPLES + 9) as f64);
        assert_eq!(scratch.first(), Some(&((MAX_SAMPLES - 11) as f64)));
        assert_eq!(
            s.recent(5, &mut scratch).median_ms,
            (MAX_SAMPLES + 7) as f64
        );
    }

    #[test]
    fn the_stage_table_aligns_names_and_values() {
        let mut a = Samples::default();
        a.push(1.0);
        a.push(3.0);
        let sum = a.summary();
        let t = stage_table(&[("invoke", &sum), ("capture-to-output", &sum)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            format!("{:<18}{:>10}{:>10}", "stage", "median ms", "p99 ms")
        );
        assert_eq!(
            lines[1],
            format!("{:<18}{:>10}{:>10}", "invoke", "2.000", "3.000")
        );
        assert_eq!(lines.len(), 3);
        assert!(t.ends_with('\n'));
        let short = stage_table(&[("decode", &sum)]);
        assert!(short.starts_with(&format!("{:<14}{:>10}", "stage", "median ms")));
    }
}

//! Helpers shared by the benchmarks: timing, percentiles, the machine they
//! ran on, and realistic names (Spanish and Hungarian, as our users write).
//!
//! Run a bench with `cargo bench -p fieldwork-bench --bench NAME`; sizes can
//! be lowered with environment variables (each bench documents its own) for
//! a quick look. Figures belong in `docs/benchmarks.md`, never in tests.

use std::time::Duration;

use rand::Rng;
use rand::seq::IndexedRandom;

/// The value at quantile `q` (0..=1) of `samples` (sorted in place).
pub fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let i = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[i]
}

/// A duration for a table: µs below 1 ms, ms below 10 s, s above.
pub fn show(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.0} µs", d.as_secs_f64() * 1e6)
    } else if d < Duration::from_secs(10) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Bytes for a table.
pub fn bytes(n: u64) -> String {
    if n >= 10 * 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    } else if n >= 10 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

/// A line describing the machine: CPU model, cores, memory.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|kib| format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "? GiB".into());
    format!("{cpu}, {cores} cores, {mem} RAM; release build")
}

/// An environment variable as a number, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const FIRST: &[&str] = &[
    "José", "María", "Lucía", "Álvaro", "Núria", "Íñigo", "Begoña", "Jesús", "Ádám", "Zsófia",
    "Gergő", "Réka", "Bence", "Dóra", "Levente", "Eszter", "Csaba", "Gyöngyi", "Ákos", "Tünde",
];
const LAST: &[&str] = &[
    "García",
    "Martínez",
    "Núñez",
    "Peña",
    "Ibáñez",
    "Muñoz",
    "Domínguez",
    "Gutiérrez",
    "Szőke",
    "Kovács",
    "Tóth",
    "Szabó",
    "Horváth",
    "Varga",
    "Kiss",
    "Molnár",
    "Németh",
    "Farkas",
    "Balogh",
    "Papp",
];
const COMPANY: &[&str] = &[
    "Construcciones",
    "Distribuciones",
    "Talleres",
    "Ferretería",
    "Farmacia",
    "Panadería",
    "Kereskedelmi",
    "Építőipari",
    "Szállítmányozási",
    "Gépészeti",
    "Asesores",
    "Transportes",
];
const SUFFIX: &[&str] = &["SL", "SA", "Kft.", "Zrt.", "Bt.", "y Asociados", "Hermanos"];

/// A person's first name.
pub fn first_name(rng: &mut impl Rng) -> &'static str {
    FIRST.choose(rng).copied().unwrap_or("Ana")
}

/// A person's last name.
pub fn last_name(rng: &mut impl Rng) -> &'static str {
    LAST.choose(rng).copied().unwrap_or("García")
}

/// A company name such as `Transportes Szőke Kft.`.
pub fn company(rng: &mut impl Rng) -> String {
    format!(
        "{} {} {}",
        COMPANY.choose(rng).copied().unwrap_or("Talleres"),
        last_name(rng),
        SUFFIX.choose(rng).copied().unwrap_or("SL")
    )
}

/// A search prefix a user might type: the first 3-5 letters of a name,
/// without accents about half of the time.
pub fn typed_prefix(rng: &mut impl Rng) -> String {
    let name = if rng.random_bool(0.5) {
        last_name(rng)
    } else {
        COMPANY.choose(rng).copied().unwrap_or("Talleres")
    };
    let n = rng.random_range(3..=5);
    let prefix: String = name.chars().take(n).collect();
    if rng.random_bool(0.5) {
        prefix
            .chars()
            .map(|c| match c {
                'á' | 'Á' => 'a',
                'é' | 'É' => 'e',
                'í' | 'Í' => 'i',
                'ó' | 'ő' | 'ö' | 'Ó' => 'o',
                'ú' | 'ű' | 'ü' => 'u',
                'ñ' => 'n',
                other => other,
            })
            .collect()
    } else {
        prefix.to_lowercase()
    }
}

//! Property tests and a fuzz driver for the LogQL parser and printer.
//!
//! Two properties: a *valid* query (from [`gen`]) parses, and printing is a
//! fixed point after one round (`parse(print(parse(q))) == parse(q)`); and any
//! input (from [`mutate`]) parses without panicking to `Ok` (which must then
//! round-trip too) or to an error whose text starts with `parse error`.
//!
//! `cargo test` runs a few hundred cases; the `#[ignore]`d `long_run` runs
//! `SKALD_FUZZ_CASES` inputs in total (default 1,000,000), see docs/testing.md.

mod gen;
mod mutate;
#[cfg(test)]
mod regressions;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestRunner};

use super::parser::{parse, parse_selector, MAX_QUERY_LEN};

/// Runs `check` on `cases` inputs from `strategy`, panicking with the (shrunk) failing input.
/// Also drives the push decoding properties (`distributor::decode::fuzz`).
pub(crate) fn run<S: Strategy>(cases: u32, strategy: S, check: fn(S::Value) -> Result<(), String>)
where
    S::Value: std::fmt::Debug,
{
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 2_000, ..Config::default() };
    // The default suite is seeded, so CI runs the same cases every time; a long run
    // (SKALD_FUZZ_CASES set) explores fresh ones.
    let mut runner = if std::env::var_os("SKALD_FUZZ_CASES").is_some() {
        TestRunner::new(config)
    } else {
        let rng = proptest::test_runner::TestRng::deterministic_rng(config.rng_algorithm);
        TestRunner::new_with_rng(config, rng)
    };
    let res = runner.run(&strategy, |v| check(v).map_err(proptest::test_runner::TestCaseError::fail));
    if let Err(e) = res {
        panic!("{e}");
    }
}

/// A valid query parses, and its printed form parses back to the same tree and text.
fn round_trips(q: String) -> Result<(), String> {
    let first = parse(&q).map_err(|e| format!("valid query rejected: {q:?}: {e}"))?;
    fixed_point(&q, &first)
}

fn fixed_point(q: &str, first: &super::Expr) -> Result<(), String> {
    let printed = first.to_string();
    if printed.len() > MAX_QUERY_LEN || known_ambiguity(first) {
        return Ok(());
    }
    let second = parse(&printed).map_err(|e| format!("printed query rejected: {q:?} printed {printed:?}: {e}"))?;
    if second != *first {
        return Err(format!("round trip changed the tree: {q:?} printed {printed:?}\n{first:?}\n{second:?}"));
    }
    let again = second.to_string();
    if again != printed {
        return Err(format!("printing is not a fixed point: {printed:?} then {again:?}"));
    }
    Ok(())
}

/// Known, not yet fixed: inside a range aggregation, a negative line filter right
/// after `drop`/`keep` cannot be printed unambiguously (the parenthesised form that
/// top-level log queries use is not accepted before a `[range]`). docs/testing.md.
fn known_ambiguity(e: &super::Expr) -> bool {
    use super::ast::{LineFilterOp, Stage};
    let absorbs = |l: &super::LogExpr| {
        l.stages.windows(2).any(|w| {
            matches!(w[0], Stage::Drop(_) | Stage::Keep(_))
                && matches!(&w[1], Stage::Line(f) if matches!(f.op, LineFilterOp::NotContains | LineFilterOp::NotMatch))
        })
    };
    match e {
        super::Expr::Log(_) => false,
        super::Expr::Sample(s) => {
            let mut ranges = Vec::new();
            s.ranges(&mut ranges);
            ranges.iter().any(|r| absorbs(&r.range.log))
        }
    }
}

/// Any input: no panic, `Ok` round-trips, an error has Loki's `parse error` prefix.
fn robust(q: String) -> Result<(), String> {
    let _ = parse_selector(&q);
    match parse(&q) {
        Ok(e) => fixed_point(&q, &e),
        Err(e) => {
            let text = e.to_string();
            if text.starts_with("parse error") {
                Ok(())
            } else {
                Err(format!("error text without the Loki prefix for {q:?}: {text}"))
            }
        }
    }
}

/// Runs every property with `total` inputs shared between them.
fn all(total: u32) {
    let share = total / 8;
    run(share * 3, gen::query(), round_trips);
    run(share * 2, mutate::mutated(), robust);
    run(share * 2, mutate::arbitrary(), robust);
    run(share / 2, mutate::nested(), robust);
    run(share / 2, mutate::nested_template(), robust);
}

#[test]
fn valid_queries_round_trip() {
    run(256, gen::query(), round_trips);
}

#[test]
fn arbitrary_input_never_panics() {
    run(256, mutate::mutated(), robust);
    run(256, mutate::arbitrary(), robust);
    run(32, mutate::nested(), robust);
    run(16, mutate::nested_template(), robust);
}

/// The long run: `SKALD_FUZZ_CASES=1000000 cargo test --release --lib logql::fuzz -- --ignored`.
#[test]
#[ignore]
fn long_run() {
    let total = std::env::var("SKALD_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    all(total);
}

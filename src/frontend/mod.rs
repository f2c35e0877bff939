//! The front end: `net.toml` and its `.npy` arrays in, a validated [`crate::ir::Network`] out.

pub mod export;
mod load;
pub mod npy;
mod schema;

pub use load::load;

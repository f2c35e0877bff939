//! The front end: `net.toml` and its `.npy` arrays in, a validated [`crate::ir::Network`] out.

pub mod export;
pub mod float_io;
mod load;
pub mod npy;
pub mod onnx;
mod schema;

pub use load::{load, load_with_io};

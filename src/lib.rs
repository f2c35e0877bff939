//! bnn-gen: a compiler and simulator that turns binarized and quantized neural networks into
//! streaming FPGA accelerators.
//!
//! The pipeline: [`frontend::load`] reads `net.toml` into the [`ir::Network`] IR; [`passes`] lower it
//! (batch-norm → integer thresholds); [`golden`] runs it with plain integer arithmetic as the
//! reference every other model is checked against.

pub mod codegen;
pub mod cyclesim;
pub mod datatype;
pub mod error;
pub mod fold;
pub mod frontend;
pub mod golden;
pub mod hwir;
pub mod ir;
pub mod passes;
pub mod progress;
pub mod report;
pub mod synth;
pub mod verify;

pub use error::{Error, Result};

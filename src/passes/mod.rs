//! Passes over the IR. [`lower`] runs the ones every backend needs, in order.

pub mod pad;
pub mod prune;
pub mod thresholds;
pub mod window;

use crate::error::Result;
use crate::ir::Network;

/// Lowers a network as loaded to the integer form the golden model and the hardware consume:
/// batch-norm + quantizer → thresholds, and explicit thresholds sorted and clamped.
pub fn lower(net: &mut Network) -> Result<()> {
    thresholds::lower_activations(net)
}

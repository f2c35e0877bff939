//! Packing frames into AXI-Stream words and back, by the conventions of `docs/hardware.md`:
//! element i of a word at bits `[i·b, (i+1)·b)` (LSB first), frame element `e` in slot
//! `s = layout.slot(e)` (per-pixel channel padding), slot `w·E + i` in word w (E elements per
//! word), bipolar ±1 as bit 1/0, padding slots and spare TDATA bits zero.

use super::bits::Bits;
use crate::error::{Error, Result};
use crate::hwir::{HwNetwork, StreamFormat};

/// The input words of one frame of true values (NHWC-flattened, values of the input datatype).
pub fn pack_input(hw: &HwNetwork, frame: &[i64]) -> Result<Vec<Bits>> {
    let fmt = hw.input_stream();
    if frame.len() != fmt.elements {
        return Err(Error::invalid(
            "input frame",
            format!("has {} values, expected {}", frame.len(), fmt.elements),
        ));
    }
    let b = fmt.element.bits() as usize;
    let dt = hw.input_dtype;
    let epw = fmt.elements_per_word;
    let mut words = vec![Bits::zero(fmt.tdata_bits); fmt.words_per_frame];
    for (e, &v) in frame.iter().enumerate() {
        if !dt.contains(v) {
            return Err(Error::invalid(
                format!("input frame, element {e}"),
                format!("value {v} is not a {dt} value"),
            ));
        }
        let s = fmt.layout.slot(e);
        words[s / epw].set((s % epw) * b, b, dt.encode(v));
    }
    Ok(words)
}

/// The values one frame's output words carry: the k class indices with a head, else the true
/// output channels (padding slots dropped), decoded.
pub fn unpack_output(hw: &HwNetwork, words: &[Bits]) -> Result<Vec<i64>> {
    let fmt = hw.output_stream();
    unpack(&fmt, words)
}

/// Decodes the meaningful elements of one frame of words in format `fmt`.
pub fn unpack(fmt: &StreamFormat, words: &[Bits]) -> Result<Vec<i64>> {
    if words.len() != fmt.words_per_frame {
        return Err(Error::invalid(
            "output frame",
            format!(
                "has {} words, expected {}",
                words.len(),
                fmt.words_per_frame
            ),
        ));
    }
    let b = fmt.element.bits() as usize;
    let mut out = Vec::with_capacity(fmt.elements);
    for e in 0..fmt.elements {
        let s = fmt.layout.slot(e);
        let (w, i) = (s / fmt.elements_per_word, s % fmt.elements_per_word);
        out.push(fmt.element.decode(words[w].get(i * b, b)));
    }
    Ok(out)
}

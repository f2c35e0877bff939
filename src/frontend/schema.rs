//! The serde schema of `net.toml`, one struct per table, exactly as documented in
//! `docs/net-format.md`. Every struct denies unknown fields so that a typo is an error.
//!
//! Numbers that must be positive are read as `i64` and checked in `load`, so that `pe = -1` gets a
//! message about PE rather than a serde type error.
//!
//! Tables with a `kind` (layers, activations, quantizers) are dispatched on it by hand in `load`,
//! which then decodes the struct of that kind. Serde's internally tagged enums would do it in one
//! step, but they buffer the table first, which loses the key path of a type error ("invalid type:
//! string, expected i64" without saying which field) and ignores unknown keys on unit variants.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetFile {
    pub name: String,
    pub input: InputSpec,
    /// The `[[layer]]` tables, kept raw so that each one is decoded with its index in the error.
    #[serde(default, rename = "layer")]
    pub layers: Vec<toml::Table>,
    pub head: Option<HeadSpec>,
    /// `[output]`: the float output affine of an imported model (decoded in `float_io`).
    pub output: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub shape: Vec<i64>,
    pub dtype: String,
    /// `[input.quantizer]`: float input → these integers, for an imported model (decoded in
    /// `float_io`).
    pub quantizer: Option<toml::Table>,
}

/// A `dense` layer, without its `kind` and `activation` (decoded separately).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseSpec {
    /// Read from the raw table before decoding (for error locations); kept so the key is known.
    #[allow(dead_code)]
    pub name: Option<String>,
    pub out_features: i64,
    pub weights: String,
    pub weight_layout: Option<String>,
    pub weight_dtype: String,
    pub input_order: Option<String>,
    pub pe: i64,
    pub simd: i64,
    /// `"rom"` or `"logic"`, checked in `load`.
    pub weight_storage: Option<String>,
    /// `"auto"`, `"block"`, `"distributed"` or `"logic"`, checked in `load`.
    pub ram_style: Option<String>,
    pub threshold_ram_style: Option<String>,
    /// Depth of the FIFO in front of the layer (words), checked in `load` and `passes::pad`.
    pub fifo_depth: Option<i64>,
}

/// A `conv2d` layer, without its `kind` and `activation` (decoded separately).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvSpec {
    /// Read from the raw table before decoding (for error locations); kept so the key is known.
    #[allow(dead_code)]
    pub name: Option<String>,
    pub out_channels: i64,
    /// `1` (default) or the input channel count (depthwise, `out_channels = in_channels`).
    pub groups: Option<i64>,
    pub kernel: Pair,
    pub stride: Option<Pair>,
    pub padding: Option<Pair>,
    pub pad_value: Option<i64>,
    pub weights: String,
    pub weight_layout: Option<String>,
    pub weight_dtype: String,
    pub pe: i64,
    pub simd: i64,
    /// `"rom"` or `"logic"`, checked in `load`.
    pub weight_storage: Option<String>,
    /// `"auto"`, `"block"`, `"distributed"` or `"logic"`, checked in `load`.
    pub ram_style: Option<String>,
    pub threshold_ram_style: Option<String>,
    /// Words of the window generator's buffer, checked in `load` and `passes::pad`.
    pub buffer_depth: Option<i64>,
}

/// A `maxpool` layer, without its `kind`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// Read from the raw table before decoding (for error locations); kept so the key is known.
    #[allow(dead_code)]
    pub name: Option<String>,
    pub kernel: Pair,
    pub stride: Option<Pair>,
    /// Words of the window generator's buffer, checked in `load` and `passes::pad`.
    pub buffer_depth: Option<i64>,
}

/// A `globalavgpool` layer, without its `kind`: nothing but an optional name (the window is
/// the whole image).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalAvgPoolSpec {
    /// Read from the raw table before decoding (for error locations); kept so the key is known.
    #[allow(dead_code)]
    pub name: Option<String>,
}

/// `k` or `[kh, kw]`.
#[derive(Debug, Clone)]
pub enum Pair {
    One(i64),
    Two(Vec<i64>),
}

/// By hand rather than `#[serde(untagged)]`, whose error is "data did not match any variant of
/// untagged enum Pair".
impl<'de> Deserialize<'de> for Pair {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairVisitor;
        impl<'de> Visitor<'de> for PairVisitor {
            type Value = Pair;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number k or a list [vertical, horizontal]")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Pair, E> {
                Ok(Pair::One(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pair, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = seq.next_element::<i64>()? {
                    v.push(x);
                }
                Ok(Pair::Two(v))
            }
        }
        deserializer.deserialize_any(PairVisitor)
    }
}

/// `[layer.activation]` with `kind = "batchnorm"`, without `kind` and `quantizer` (decoded
/// separately).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchNormSpec {
    pub gamma: String,
    pub beta: String,
    pub mean: String,
    pub var: String,
    pub eps: f64,
    pub alpha: Option<String>,
    pub bias: Option<String>,
}

/// `quantizer = { kind = "uniform", ... }`, without `kind`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniformSpec {
    pub bits: i64,
    pub signed: bool,
    pub scale: f64,
}

/// `[layer.activation]` with `kind = "thresholds"`, without `kind`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsSpec {
    pub thresholds: String,
    pub out_dtype: String,
    pub out_bias: Option<i64>,
}

/// A table whose only key is `kind`: activation `none`, quantizer `sign`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindOnly {}

/// `[head]`: `kind` is "argmax" or "topk"; `k` only with "topk" (checked in `load`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadSpec {
    pub kind: String,
    pub k: Option<i64>,
}

//! The serde schema of `net.toml`, one struct per table, exactly as documented in
//! `docs/net-format.md`. Every struct denies unknown fields so that a typo is an error.
//!
//! Numbers that must be positive are read as `i64` and checked in `load`, so that `pe = -1` gets a
//! message about PE rather than a serde type error.

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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub shape: Vec<i64>,
    pub dtype: String,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LayerSpec {
    Dense(DenseSpec),
    Conv2d(ConvSpec),
    Maxpool(PoolSpec),
}

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
    pub activation: ActivationSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvSpec {
    /// Read from the raw table before decoding (for error locations); kept so the key is known.
    #[allow(dead_code)]
    pub name: Option<String>,
    pub out_channels: i64,
    pub kernel: Pair,
    pub stride: Option<Pair>,
    pub padding: Option<Pair>,
    pub pad_value: Option<i64>,
    pub weights: String,
    pub weight_layout: Option<String>,
    pub weight_dtype: String,
    pub pe: i64,
    pub simd: i64,
    pub activation: ActivationSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// Read from the raw table before decoding (for error locations); kept so the key is known.
    #[allow(dead_code)]
    pub name: Option<String>,
    pub kernel: Pair,
    pub stride: Option<Pair>,
}

/// `k` or `[kh, kw]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Pair {
    One(i64),
    Two(Vec<i64>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ActivationSpec {
    Batchnorm(BatchNormSpec),
    Thresholds(ThresholdsSpec),
    None(NoneSpec),
}

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
    pub quantizer: QuantizerSpec,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum QuantizerSpec {
    Sign,
    Uniform { bits: i64, signed: bool, scale: f64 },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsSpec {
    pub thresholds: String,
    pub out_dtype: String,
    pub out_bias: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoneSpec {}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum HeadSpec {
    Argmax,
    Topk { k: i64 },
}

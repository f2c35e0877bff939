//! Reading an ONNX model: protobuf decoding (prost), the opset check, initializers as f64 arrays,
//! node attributes. Every error names the file and, where there is one, the node.

use super::proto::{self, attribute_proto::AttributeType, tensor_proto::DataType as PbType};
use crate::error::{Error, Result};
use ndarray::{ArrayD, IxDyn};
use prost::Message;
use std::collections::HashMap;

/// Opsets of the default ONNX domain this importer understands. Brevitas exports opset 13 (raw)
/// or 11..=17; the ops used here have not changed semantics within this range.
pub const OPSETS: std::ops::RangeInclusive<i64> = 7..=22;

/// Largest tensor accepted, in elements (a corrupted dims field must not exhaust memory).
const MAX_ELEMENTS: usize = 1 << 27;

/// A decoded model: its graph, the opset, and the initializers by name.
pub struct Model {
    /// The file, for error messages.
    pub file: String,
    pub graph: proto::GraphProto,
    pub initializers: HashMap<String, ArrayD<f64>>,
}

/// Decodes `bytes` (the contents of `file`) and checks the opset.
pub fn decode(bytes: &[u8], file: &str) -> Result<Model> {
    let model = proto::ModelProto::decode(bytes).map_err(|e| {
        Error::invalid(
            file,
            format!("not a readable ONNX model (protobuf: {e})\nhelp: is the file complete? an ONNX file is a binary ModelProto, as written by torch.onnx or brevitas.export.export_qonnx"),
        )
    })?;
    let graph = model.graph.ok_or_else(|| {
        Error::invalid(
            file,
            "the ONNX model has no graph (empty or not an ONNX model)",
        )
    })?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain().is_empty() || o.domain() == "ai.onnx")
        .map(|o| o.version());
    match opset {
        Some(v) if OPSETS.contains(&v) => {}
        Some(v) => {
            return Err(Error::invalid(
                file,
                format!(
                    "default-domain opset {v} is not supported (supported: {}..={})\nhelp: export with torch.onnx / brevitas opset_version=13",
                    OPSETS.start(),
                    OPSETS.end()
                ),
            ))
        }
        None if graph.node.iter().all(|n| !n.domain().is_empty()) => {}
        None => {
            return Err(Error::invalid(
                file,
                "the model declares no opset for the default ONNX domain",
            ))
        }
    }
    let mut initializers = HashMap::new();
    for t in &graph.initializer {
        let a = tensor(t)
            .map_err(|m| Error::invalid(format!("{file}: initializer \"{}\"", t.name()), m))?;
        initializers.insert(t.name().to_string(), a);
    }
    if !graph.sparse_initializer.is_empty() {
        return Err(Error::invalid(
            file,
            "sparse initializers are not supported",
        ));
    }
    Ok(Model {
        file: file.to_string(),
        graph,
        initializers,
    })
}

/// A tensor's values as f64 (every integer type used for shapes and parameters fits exactly, up
/// to 2^53).
pub fn tensor(t: &proto::TensorProto) -> Result<ArrayD<f64>, String> {
    if t.data_location() == proto::tensor_proto::DataLocation::External
        || !t.external_data.is_empty()
    {
        return Err(
            "external data is not supported: save the model with its tensors inside the file"
                .into(),
        );
    }
    let mut dims = Vec::with_capacity(t.dims.len());
    let mut count: usize = 1;
    for &d in &t.dims {
        let d = usize::try_from(d).map_err(|_| format!("negative dimension {d}"))?;
        count = count
            .checked_mul(d)
            .filter(|&c| c <= MAX_ELEMENTS)
            .ok_or_else(|| format!("too large: dims {:?}", t.dims))?;
        dims.push(d);
    }
    let raw = t.raw_data.as_deref();
    let dtype = PbType::try_from(t.data_type())
        .map_err(|_| format!("unknown data type {}", t.data_type()))?;
    let from_raw = |width: usize, f: &dyn Fn(&[u8]) -> f64| -> Result<Vec<f64>, String> {
        let raw = raw.unwrap_or_default();
        if raw.len() != count * width {
            return Err(format!(
                "raw_data has {} bytes, expected {} for dims {dims:?} of {}-byte values",
                raw.len(),
                count * width,
                width
            ));
        }
        Ok(raw.chunks_exact(width).map(f).collect())
    };
    let values: Vec<f64> = match dtype {
        PbType::Float if raw.is_some() => from_raw(4, &|b| {
            f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64
        })?,
        PbType::Float => t.float_data.iter().map(|&v| v as f64).collect(),
        PbType::Double if raw.is_some() => {
            from_raw(8, &|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))?
        }
        PbType::Double => t.double_data.clone(),
        PbType::Int64 if raw.is_some() => from_raw(8, &|b| {
            i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64
        })?,
        PbType::Int64 => t.int64_data.iter().map(|&v| v as f64).collect(),
        PbType::Int32 if raw.is_some() => from_raw(4, &|b| {
            i32::from_le_bytes(b.try_into().expect("4 bytes")) as f64
        })?,
        PbType::Int8 if raw.is_some() => from_raw(1, &|b| b[0] as i8 as f64)?,
        PbType::Uint8 if raw.is_some() => from_raw(1, &|b| b[0] as f64)?,
        PbType::Int32 | PbType::Int8 | PbType::Uint8 | PbType::Int16 | PbType::Uint16 => {
            t.int32_data.iter().map(|&v| v as f64).collect()
        }
        other => {
            return Err(format!(
                "data type {other:?} is not supported (float, double, int8/16/32/64, uint8/16 are)"
            ))
        }
    };
    if values.len() != count {
        return Err(format!(
            "{} values for dims {dims:?} ({count} expected)",
            values.len()
        ));
    }
    ArrayD::from_shape_vec(IxDyn(&dims), values).map_err(|e| e.to_string())
}

/// The fixed dims of a graph input or output (a symbolic or missing dimension is `None`).
pub fn value_dims(v: &proto::ValueInfoProto) -> Option<Vec<Option<usize>>> {
    use proto::tensor_shape_proto::dimension::Value as D;
    use proto::type_proto::Value as T;
    let Some(T::TensorType(t)) = v.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    let shape = t.shape.as_ref()?;
    Some(
        shape
            .dim
            .iter()
            .map(|d| match d.value {
                Some(D::DimValue(x)) if x > 0 => Some(x as usize),
                _ => None,
            })
            .collect(),
    )
}

/// A node with its place, for messages and attributes.
pub struct Node<'a> {
    pub index: usize,
    pub proto: &'a proto::NodeProto,
    pub file: &'a str,
}

impl Node<'_> {
    pub fn op(&self) -> &str {
        self.proto.op_type()
    }

    /// `model.onnx: node 3 "Quant_1" (Quant)`.
    pub fn here(&self) -> String {
        let name = self.proto.name();
        let name = if name.is_empty() {
            self.proto.output.first().map_or("", |s| s.as_str())
        } else {
            name
        };
        format!(
            "{}: node {} \"{}\" ({})",
            self.file,
            self.index,
            name,
            self.op()
        )
    }

    pub fn err(&self, message: impl Into<String>) -> Error {
        Error::invalid(self.here(), message)
    }

    fn attr(&self, name: &str) -> Option<&proto::AttributeProto> {
        self.proto.attribute.iter().find(|a| a.name() == name)
    }

    pub fn int(&self, name: &str, default: i64) -> Result<i64> {
        match self.attr(name) {
            None => Ok(default),
            Some(a) if a.r#type() == AttributeType::Int || a.i.is_some() => Ok(a.i()),
            Some(_) => Err(self.err(format!("attribute `{name}` must be an integer"))),
        }
    }

    pub fn float(&self, name: &str, default: f32) -> Result<f32> {
        match self.attr(name) {
            None => Ok(default),
            Some(a) if a.r#type() == AttributeType::Float || a.f.is_some() => Ok(a.f()),
            Some(_) => Err(self.err(format!("attribute `{name}` must be a float"))),
        }
    }

    pub fn string(&self, name: &str, default: &str) -> Result<String> {
        match self.attr(name) {
            None => Ok(default.to_string()),
            Some(a) if a.r#type() == AttributeType::String || a.s.is_some() => {
                String::from_utf8(a.s().to_vec())
                    .map_err(|_| self.err(format!("attribute `{name}` is not UTF-8")))
            }
            Some(_) => Err(self.err(format!("attribute `{name}` must be a string"))),
        }
    }

    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        match self.attr(name) {
            None => Ok(None),
            Some(a) if a.r#type() == AttributeType::Ints || !a.ints.is_empty() => {
                Ok(Some(a.ints.clone()))
            }
            Some(_) => Err(self.err(format!("attribute `{name}` must be a list of integers"))),
        }
    }

    /// A `Constant` node's value.
    pub fn constant_value(&self) -> Result<ArrayD<f64>> {
        let a = self
            .attr("value")
            .ok_or_else(|| self.err("only the `value` form of Constant is supported"))?;
        let t =
            a.t.as_ref()
                .ok_or_else(|| self.err("attribute `value` has no tensor"))?;
        tensor(t).map_err(|m| self.err(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float_tensor(dims: Vec<i64>, raw: Option<Vec<u8>>, data: Vec<f32>) -> proto::TensorProto {
        proto::TensorProto {
            dims,
            data_type: Some(PbType::Float as i32),
            raw_data: raw,
            float_data: data,
            ..Default::default()
        }
    }

    #[test]
    fn tensors_from_raw_and_typed_fields() {
        let raw: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let a = tensor(&float_tensor(vec![2], Some(raw), vec![])).unwrap();
        assert_eq!(a.into_raw_vec_and_offset().0, vec![1.5, -2.0]);
        let b = tensor(&float_tensor(vec![1, 2], None, vec![3.0, 4.0])).unwrap();
        assert_eq!(b.shape(), &[1, 2]);
        let short = tensor(&float_tensor(vec![3], Some(vec![0; 8]), vec![]));
        assert!(short.unwrap_err().contains("raw_data has 8 bytes"));
        let huge = tensor(&float_tensor(vec![1 << 40, 1 << 40], None, vec![]));
        assert!(huge.unwrap_err().contains("too large"));
        let neg = tensor(&float_tensor(vec![-1], None, vec![]));
        assert!(neg.is_err());
    }

    #[test]
    fn garbage_and_wrong_opset_are_errors() {
        let e = decode(b"\xff\xff\xff", "m.onnx").err().unwrap().to_string();
        assert!(e.starts_with("m.onnx: not a readable ONNX model"), "{e}");
        let model = proto::ModelProto {
            opset_import: vec![proto::OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(1),
            }],
            graph: Some(proto::GraphProto {
                node: vec![proto::NodeProto {
                    op_type: Some("Relu".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = decode(&model.encode_to_vec(), "m.onnx")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("opset 1 is not supported"), "{e}");
    }
}

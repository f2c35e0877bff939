//! Reading `.npy` arrays of whatever dtype a framework wrote, into integers or floats.
//!
//! Brevitas and Larq export weights as float32 arrays of exactly representable values, PyTorch and
//! numpy scripts often as int64 or int8; every one of them is accepted, and a value that is not what
//! the layer declares is reported with its file and index.

use crate::error::{Error, Result};
use ndarray::{ArrayD, Dimension};
use ndarray_npy::{ReadNpyError, ReadNpyExt};
use std::path::Path;

/// An array as stored: integer or floating point.
#[derive(Debug)]
pub enum NpyArray {
    Int(ArrayD<i64>),
    Float(ArrayD<f64>),
}

impl NpyArray {
    pub fn shape(&self) -> &[usize] {
        match self {
            NpyArray::Int(a) => a.shape(),
            NpyArray::Float(a) => a.shape(),
        }
    }
}

/// Reads `path`, trying every integer, float and bool dtype numpy writes.
pub fn read(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |e: ReadNpyError| {
        Error::invalid(
            path.display().to_string(),
            format!("not a readable .npy file ({e})"),
        )
    };

    // Each attempt fails fast on the header's type descriptor, so the order only matters for speed.
    macro_rules! try_as {
        ($t:ty, $variant:ident, $conv:expr) => {
            match ArrayD::<$t>::read_npy(&bytes[..]) {
                Ok(a) => return Ok(NpyArray::$variant(a.mapv($conv))),
                Err(ReadNpyError::WrongDescriptor(_)) => {}
                Err(e) => return Err(bad(e)),
            }
        };
    }
    try_as!(i64, Int, |v| v);
    try_as!(i32, Int, i64::from);
    try_as!(i16, Int, i64::from);
    try_as!(i8, Int, i64::from);
    try_as!(u8, Int, i64::from);
    try_as!(u16, Int, i64::from);
    try_as!(u32, Int, i64::from);
    try_as!(bool, Int, i64::from);
    try_as!(f32, Float, f64::from);
    try_as!(f64, Float, |v| v);
    // u64 last: values above i64::MAX cannot be meant as network data, map them out of every range.
    match ArrayD::<u64>::read_npy(&bytes[..]) {
        Ok(a) => Ok(NpyArray::Int(
            a.mapv(|v| i64::try_from(v).unwrap_or(i64::MAX)),
        )),
        Err(ReadNpyError::WrongDescriptor(d)) => Err(Error::invalid(
            path.display().to_string(),
            format!(
                "unsupported npy dtype {d}: expected an integer, bool, float32 or float64 array"
            ),
        )),
        Err(e) => Err(bad(e)),
    }
}

/// Reads an integer-valued array: float arrays must hold exact integers (no NaN, no fractions).
pub fn read_int(path: &Path) -> Result<ArrayD<i64>> {
    match read(path)? {
        NpyArray::Int(a) => Ok(a),
        NpyArray::Float(a) => {
            let mut out = ArrayD::<i64>::zeros(a.raw_dim());
            for ((idx, &v), o) in a.indexed_iter().zip(out.iter_mut()) {
                if !(v.is_finite() && v.fract() == 0.0 && v.abs() < 2f64.powi(62)) {
                    return Err(Error::invalid(
                        path.display().to_string(),
                        format!(
                            "value {v} at index {:?} is not an integer (float arrays must hold \
                             exactly representable integer values)",
                            idx.slice()
                        ),
                    ));
                }
                *o = v as i64;
            }
            Ok(out)
        }
    }
}

/// Reads a float array (integers are converted); NaN and infinities are errors.
pub fn read_float(path: &Path) -> Result<ArrayD<f64>> {
    let a = match read(path)? {
        NpyArray::Int(a) => a.mapv(|v| v as f64),
        NpyArray::Float(a) => a,
    };
    if let Some((idx, v)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::invalid(
            path.display().to_string(),
            format!("value {v} at index {:?} is not finite", idx.slice()),
        ));
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use ndarray_npy::write_npy;

    #[test]
    fn reads_every_common_dtype_as_integers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        write_npy(&p, &array![[1i8, -1], [1, 1]]).unwrap();
        assert_eq!(
            read_int(&p).unwrap().into_raw_vec_and_offset().0,
            vec![1, -1, 1, 1]
        );
        write_npy(&p, &array![1.0f32, -1.0]).unwrap();
        assert_eq!(
            read_int(&p).unwrap().into_raw_vec_and_offset().0,
            vec![1, -1]
        );
        write_npy(&p, &array![255u8, 0]).unwrap();
        assert_eq!(
            read_int(&p).unwrap().into_raw_vec_and_offset().0,
            vec![255, 0]
        );
    }

    #[test]
    fn fractional_float_is_an_error_naming_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.npy");
        write_npy(&p, &array![[1.0f64, 0.5]]).unwrap();
        let msg = read_int(&p).unwrap_err().to_string();
        assert!(
            msg.contains("w.npy") && msg.contains("[0, 1]") && msg.contains("0.5"),
            "{msg}"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.npy");
        std::fs::write(&p, b"not numpy at all").unwrap();
        assert!(read(&p)
            .unwrap_err()
            .to_string()
            .contains("not a readable .npy"));
        assert!(read(&dir.path().join("missing.npy")).is_err());
    }
}

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
    check_header(&bytes).map_err(|m| {
        Error::invalid(
            path.display().to_string(),
            format!("not a readable .npy file ({m})"),
        )
    })?;

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

/// Checks an npy header before ndarray-npy sees it. ndarray-npy allocates the whole array the header
/// describes before it reads (and before it checks the dtype): a corrupt header claiming 10^12
/// elements would abort the process (allocation failure) rather than return an error. And its
/// header parser (py_literal, a backtracking PEG) takes time exponential in the bracket nesting:
/// 100 unclosed `[` do not finish in minutes. numpy writes a dict holding a shape tuple (depth 2); structured
/// dtypes, which are not supported anyway, go a little deeper. Files that do not start with the npy
/// magic are left to ndarray-npy, which reports them.
fn check_header(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 10 || !bytes.starts_with(b"\x93NUMPY") {
        return Ok(());
    }
    let (len, start) = match bytes[6] {
        1 => (
            usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
            10usize,
        ),
        2 | 3 if bytes.len() >= 12 => {
            let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (usize::try_from(len).unwrap_or(usize::MAX), 12)
        }
        _ => return Ok(()),
    };
    let header = start
        .checked_add(len)
        .and_then(|end| bytes.get(start..end))
        .ok_or_else(|| {
            format!(
                "the header says it is {len} bytes long, but the file has only {} bytes",
                bytes.len()
            )
        })?;
    let data_bytes = bytes.len() - start - len;
    let header = String::from_utf8_lossy(header);
    let mut depth = 0usize;
    for c in header.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > 4 {
            return Err("the header is nested too deeply".to_string());
        }
    }
    let shape = header_shape(&header).ok_or("the header has no readable 'shape'")?;
    match shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) {
        // Every dtype takes at least one byte per element.
        Some(n) if n <= data_bytes => Ok(()),
        _ => Err(format!(
            "the header claims shape {shape:?}, but the file has only {data_bytes} bytes of data"
        )),
    }
}

/// The `'shape': (a, b, ...)` entry of an npy header dict.
fn header_shape(header: &str) -> Option<Vec<usize>> {
    let at = header
        .find("'shape'")
        .or_else(|| header.find("\"shape\""))?;
    let rest = header[at + "'shape'".len()..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let close = match rest.chars().next()? {
        '(' => ')',
        '[' => ']',
        _ => return None,
    };
    rest[1..rest.find(close)?]
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.trim_end_matches(['L', 'l']).parse().ok())
        .collect()
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
    fn header_claiming_more_data_than_the_file_holds_is_an_error_not_an_abort() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.npy");
        // An int8 header claiming 10^12 elements, followed by 4 bytes of data.
        let header = "{'descr': '|i1', 'fortran_order': False, 'shape': (1000000, 1000000), }\n";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&[1, 1, 1, 1]);
        std::fs::write(&p, &bytes).unwrap();
        let msg = read(&p).unwrap_err().to_string();
        assert!(
            msg.contains("[1000000, 1000000]") && msg.contains("4 bytes"),
            "{msg}"
        );

        // A header nested deeply (the header parser backtracks exponentially in the depth).
        let mut deep = b"\x93NUMPY\x01\x00".to_vec();
        let nest = "[".repeat(5000);
        deep.extend_from_slice(&(nest.len() as u16).to_le_bytes());
        deep.extend_from_slice(nest.as_bytes());
        std::fs::write(&p, &deep).unwrap();
        assert!(read(&p)
            .unwrap_err()
            .to_string()
            .contains("nested too deeply"));

        // A header length beyond the end of the file.
        std::fs::write(&p, b"\x93NUMPY\x02\x00\xff\xff\xff\xff{").unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("bytes long"));
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

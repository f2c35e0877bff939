//! The folded `net.toml`: the source text with every MVTU and VVAU layer's `pe`, `simd`, `ram_style` and
//! `threshold_ram_style` replaced and a comment saying why, `fifo_depth` / `buffer_depth` set
//! where `--size-fifos` chose them (and removed elsewhere: they belonged to the old folding),
//! everything else (comments, order, other keys) kept. When the new file is in another
//! directory, relative `.npy` paths are rewritten to point at the same files.

use super::fifos::Sizing;
use super::Design;
use crate::error::{Error, Result};
use crate::ir::{Network, Op, RamStyle, WeightStorage};
use std::path::{Component, Path, PathBuf};
use toml_edit::{DocumentMut, Item, Value};

fn style_name(s: RamStyle) -> &'static str {
    match s {
        RamStyle::Auto => "auto",
        RamStyle::Block => "block",
        RamStyle::Distributed => "distributed",
        RamStyle::Logic => "logic",
    }
}

/// `to` relative to directory `from` (both absolute).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// Rewrites every relative string value ending in `.npy` under `item`.
fn rebase(item: &mut Item, src_dir: &Path, out_dir: &Path) {
    match item {
        Item::Value(v) => rebase_value(v, src_dir, out_dir),
        Item::Table(t) => t.iter_mut().for_each(|(_, i)| rebase(i, src_dir, out_dir)),
        Item::ArrayOfTables(a) => a
            .iter_mut()
            .for_each(|t| t.iter_mut().for_each(|(_, i)| rebase(i, src_dir, out_dir))),
        Item::None => {}
    }
}

fn rebase_value(v: &mut Value, src_dir: &Path, out_dir: &Path) {
    match v {
        Value::String(s) if s.value().ends_with(".npy") && Path::new(s.value()).is_relative() => {
            let target = src_dir.join(s.value());
            let rel = relative(out_dir, &target);
            let decor = s.decor().clone();
            let mut new = toml_edit::Formatted::new(rel.to_string_lossy().replace('\\', "/"));
            *new.decor_mut() = decor;
            *s = new;
        }
        Value::InlineTable(t) => t
            .iter_mut()
            .for_each(|(_, v)| rebase_value(v, src_dir, out_dir)),
        Value::Array(a) => a.iter_mut().for_each(|v| rebase_value(v, src_dir, out_dir)),
        _ => {}
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::io(p, e))
}

/// The text of the folded `net.toml` for `design`, from the source file `source` (its text
/// `text`), to be written at `out`. `header` is the comment put on top (the command line).
pub fn folded_toml(
    text: &str,
    source: &Path,
    out: &Path,
    net: &Network,
    design: &Design,
    sizing: Option<&Sizing>,
    header: &str,
) -> Result<String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| Error::Parse {
            path: source.to_path_buf(),
            message: e.to_string(),
        })?;
    let src_dir = absolute(source.parent().unwrap_or(Path::new(".")))?;
    let out_dir = absolute(out.parent().unwrap_or(Path::new(".")))?;
    let layers = doc
        .get_mut("layer")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or_else(|| Error::invalid(source.display().to_string(), "no [[layer]] tables"))?;
    if layers.len() != net.layers.len() {
        return Err(Error::invalid(
            source.display().to_string(),
            format!(
                "{} [[layer]] tables but the network has {} layers",
                layers.len(),
                net.layers.len()
            ),
        ));
    }
    for (i, (table, layer)) in layers.iter_mut().zip(&net.layers).enumerate() {
        // Depths sized for the old folding do not hold for the new one.
        table.remove("fifo_depth");
        table.remove("buffer_depth");
        for b in sizing.iter().flat_map(|s| &s.buffers) {
            if b.layer == i && b.chosen != b.rule {
                table[b.field()] = toml_edit::value(b.chosen as i64);
                if let Some(mut key) = table.key_mut(b.field()) {
                    let comment = sizing.map(|s| s.comment(b)).unwrap_or_default();
                    key.leaf_decor_mut().set_prefix(format!("# {comment}\n"));
                }
            }
        }
        let (Op::MatVec(mv) | Op::Depthwise(mv)) = &layer.op else {
            continue;
        };
        let f = &design.folds[i];
        table["pe"] = toml_edit::value(f.pe as i64);
        table["simd"] = toml_edit::value(f.simd as i64);
        if mv.folding.weight_storage == WeightStorage::Logic {
            // No weight ROM to style (the loader refuses ram_style with logic storage).
            table.remove("ram_style");
        } else {
            table["ram_style"] = toml_edit::value(style_name(f.ram_style));
        }
        let thresholds = matches!(mv.activation, crate::ir::Activation::Thresholds(_))
            || matches!(mv.activation, crate::ir::Activation::BatchNorm(_));
        if thresholds {
            table["threshold_ram_style"] = toml_edit::value(style_name(f.threshold_ram_style));
        } else {
            table.remove("threshold_ram_style");
        }
        if let Some(mut key) = table.key_mut("pe") {
            key.leaf_decor_mut()
                .set_prefix(format!("# bnn-gen fold: {}\n", design.reasons[i]));
        }
    }
    if src_dir != out_dir {
        for (_, item) in doc.iter_mut() {
            rebase(item, &src_dir, &out_dir);
        }
    }
    let mut out_text = String::new();
    for line in header.lines() {
        out_text.push_str(&format!("# {line}\n"));
    }
    out_text.push_str(&format!("# {}\n", design.summary()));
    out_text.push_str(&doc.to_string());
    Ok(out_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/a/c/x.npy")),
            PathBuf::from("../c/x.npy")
        );
        assert_eq!(
            relative(Path::new("/a"), Path::new("/a/x.npy")),
            PathBuf::from("x.npy")
        );
    }
}

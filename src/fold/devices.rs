//! Device presets of `bnn-gen fold --device`: the resources a design may use, and how a ROM of
//! `depth` × `width` maps to the device's block RAMs.
//!
//! The cost model (`src/codegen/cost.rs`) is fitted to yosys `synth_xilinx` LUT6 counts. For the
//! LUT4 families the LUT estimate is scaled by [`LUT4_PER_LUT6`]: the tiny example synthesizes
//! to 486 LUT6 (xc7) and 786 LUT4 (ECP5), 1.62× (README, yosys 0.70).

use crate::codegen::cost::{fewest_tiles, rom_blocks, BLOCK18_CONFIGS};

/// LUT4 per LUT6 of the same design (tiny example: 786 / 486 = 1.62, rounded down).
pub const LUT4_PER_LUT6: f64 = 1.6;

/// Which block RAM primitive a device has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockRam {
    /// Xilinx 7-series RAMB18E1 / RAMB36E1, counted in RAMB18 (a RAMB36 is 2).
    Xc7,
    /// Lattice ECP5 DP16KD (18 Kbit: 16K×1 … 512×36).
    Dp16kd,
    /// Lattice iCE40 SB_RAM40_4K (4 Kbit: 2K×2, 1K×4, 512×8, 256×16).
    Ebr,
}

/// One device preset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Device {
    pub name: &'static str,
    pub description: &'static str,
    /// LUTs of the device's own kind (LUT6 for xc7, LUT4 otherwise).
    pub luts: u64,
    /// Whether [`Device::luts`] counts LUT4s.
    pub lut4: bool,
    /// Block RAMs, in the unit [`Device::ram_unit`] names (RAMB18 for xc7).
    pub blocks: u64,
    pub ram: BlockRam,
    /// Multipliers (DSP48E1, MULT18X18D, SB_MAC16).
    pub dsps: u64,
}

/// The presets (`--device`). Capacities from the vendors' data sheets: Zynq-7000 DS190 (xc7z020:
/// 53,200 LUT, 140 RAMB36, 220 DSP48E1), ECP5 DS1044 (LFE5U-85F: 83,640 LUT4, 208 DP16KD, 156
/// MULT18; LFE5U-25F: 24,288 LUT4, 56 DP16KD, 28 MULT18), iCE40 UltraPlus DS1056 (iCE40UP5K:
/// 5,280 LUT4, 30 EBR, 8 SB_MAC16).
pub const DEVICES: [Device; 4] = [
    Device {
        name: "xc7z020",
        description: "Xilinx Zynq XC7Z020 (Pynq-Z1/Z2)",
        luts: 53_200,
        lut4: false,
        blocks: 280,
        ram: BlockRam::Xc7,
        dsps: 220,
    },
    Device {
        name: "ecp5-85",
        description: "Lattice ECP5 LFE5U-85F",
        luts: 83_640,
        lut4: true,
        blocks: 208,
        ram: BlockRam::Dp16kd,
        dsps: 156,
    },
    Device {
        name: "ecp5-25",
        description: "Lattice ECP5 LFE5U-25F",
        luts: 24_288,
        lut4: true,
        blocks: 56,
        ram: BlockRam::Dp16kd,
        dsps: 28,
    },
    Device {
        name: "ice40-up5k",
        description: "Lattice iCE40 UltraPlus iCE40UP5K",
        luts: 5_280,
        lut4: true,
        blocks: 30,
        ram: BlockRam::Ebr,
        dsps: 8,
    },
];

/// The reference device for `--target-fps`/`--target-cycles` without `--device`: its resource
/// fractions weigh LUT against BRAM in the cost the search minimizes.
pub const REFERENCE: &str = "xc7z020";

impl Device {
    /// The preset named `name`.
    pub fn by_name(name: &str) -> Option<Device> {
        DEVICES.iter().copied().find(|d| d.name == name)
    }

    /// The preset names, for messages.
    pub fn names() -> String {
        DEVICES.map(|d| d.name).join(", ")
    }

    /// The unit of [`Device::blocks`].
    pub fn ram_unit(&self) -> &'static str {
        match self.ram {
            BlockRam::Xc7 => "RAMB18",
            BlockRam::Dp16kd => "DP16KD",
            BlockRam::Ebr => "EBR",
        }
    }

    /// The LUT kind, for tables.
    pub fn lut_unit(&self) -> &'static str {
        if self.lut4 {
            "LUT4"
        } else {
            "LUT6"
        }
    }

    /// This device's LUTs for a LUT6 estimate of the cost model.
    pub fn luts_of(&self, lut6: u64) -> u64 {
        if self.lut4 {
            (lut6 as f64 * LUT4_PER_LUT6).round() as u64
        } else {
            lut6
        }
    }

    /// Block RAMs of one ROM of `depth` × `width` bits: the fewest tiles of one configuration of
    /// the primitive (as yosys' `memory_libmap` picks them; xc7 uses [`rom_blocks`]).
    pub fn rom_blocks(&self, depth: u64, width: u64) -> u64 {
        match self.ram {
            BlockRam::Xc7 => {
                let (b18, b36) = rom_blocks(depth, width);
                b18 + 2 * b36
            }
            BlockRam::Dp16kd => fewest_tiles(depth, width, &BLOCK18_CONFIGS),
            BlockRam::Ebr => {
                fewest_tiles(depth, width, &[(2, 2048), (4, 1024), (8, 512), (16, 256)])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_block_mapping() {
        let z = Device::by_name("xc7z020").unwrap();
        assert_eq!((z.luts, z.blocks, z.dsps), (53_200, 280, 220));
        // LFC layer 0 ROM per PE: 416 × 64 -> one RAMB36 = 2 RAMB18.
        assert_eq!(z.rom_blocks(416, 64), 2);
        let e = Device::by_name("ecp5-85").unwrap();
        assert_eq!(e.rom_blocks(416, 64), 2); // two 512 × 36
        let i = Device::by_name("ice40-up5k").unwrap();
        assert_eq!(i.rom_blocks(416, 64), 8); // eight 512 × 8
        assert_eq!(i.rom_blocks(256, 16), 1);
        assert!(Device::by_name("xc7z010").is_none());
        assert!(Device::names().contains("ecp5-25"));
        assert_eq!(e.luts_of(1000), 1600);
    }
}

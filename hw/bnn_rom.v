// bnn_rom.v -- synchronous-read ROM with read enable (weights / thresholds).
//
// Part of bnn-gen's hand-written RTL library (Verilog-2005).
//
// Behaviour (cycle exact): read latency is exactly TWO cycles. At a rising
// edge of ap_clk where en == 1 the ROM takes addr, and at the next rising
// edge where en == 1 rdata <= mem[that addr]; with en = 1 at every edge (as
// bnn_mvtu drives it), rdata during cycle c+2 is mem[addr during cycle c].
// When en == 0 both stages hold. There is no reset (rdata is undefined until
// two enabled reads have happened).
//
// Why two cycles: a block RAM's clock-to-output delay is long (DP16KD: 5.6 ns
// at ECP5 speed 6), so with one cycle the RAM output ran straight into the
// first adder-tree level of every PE and LFC's first layer placed at 82 MHz.
// The second register sits right after the RAM (or inside it, where the tool
// absorbs it: xc7 DOA_REG, DP16KD REGMODE), so the tree starts from a
// flip-flop. How the two stages are built depends on the style (below); the
// behaviour is the same:
//   block, auto     rd0 <= mem[addr]; rdata <= rd0     (the RAM's synchronous
//                   read port, then its output register)
//   distributed,    addr_r <= addr; rdata <= mem[addr_r]  (the address is
//   logic           registered, a few bits, instead of a second WIDTH-bit
//                   data register; the LUTs then read into rdata)
//
// Tiled block ROMs (TILE_DEPTH > 0, RAM_STYLE "block" only). Left alone,
// yosys builds a deep ROM from 18-Kbit RAMs stacked in depth (e.g. 18432 x 32
// as 18 x 2 RAMs of 1024 x 18) with a wide LUT multiplexer between the RAMs'
// unregistered outputs and rdata: CNV's conv5 placed at 92 MHz on the ECP5
// because of it. Tiled, the generator chooses the RAMs itself (the rule is
// block_rom_tiling in src/codegen/cost.rs): the words are split into banks of
// TILE_DEPTH words (a power of two; the last bank holds the remaining
// DEPTH - (NB-1)*TILE_DEPTH words), and each bank into slices TILE_WIDTH bits
// wide (LAST_TILE_WIDTH in the last bank; the last slice of a bank may be
// narrower). Every slice is its own memory that fits one RAM exactly (e.g.
// 16384 x 1, 2048 x 9), so the tool has nothing to stack, and the only logic
// between a RAM and rdata is an NB:1 bank multiplexer (2:1 up to 32768
// words) whose select is registered beside the RAMs. Same two-cycle timing:
//   edge 1: every slice rd0 <= its memory[addr mod TILE_DEPTH],
//           sel_r <= addr / TILE_DEPTH
//   edge 2: rdata <= the slices of bank sel_r
// Tile n (banks in order, slices LSB first within a bank; n < 1000) reads
// its words from {TILE_FILES, nnn, ".mem"} (nnn = n in three decimal digits,
// e.g. TILE_FILES = "mem/conv5_w000_t": mem/conv5_w000_t000.mem ...), one
// word of the slice's width per line, exactly as many lines as the bank has
// words. INIT_FILE must be "" then (the whole contents live in the tiles).
//
// Contents come from INIT_FILE via $readmemh: one hexadecimal word per line,
// word 0 first, exactly DEPTH lines and a final newline (Verilator 5.006
// silently drops a last line that has no newline). Each word is WIDTH bits;
// element i of a packed word sits at bits [i*b, (i+1)*b) (LSB first).
//
// RAM_STYLE says which primitive the array becomes (the generator picks it by
// the size rule of docs/hardware.md, or net.toml's ram_style). Attributes
// cannot take parameter values in yosys, hence one generate branch per style,
// each with the same behaviour and only the attributes on `mem` different:
//   "block"        block RAM: RAMB18E1/RAMB36E1 (xc7), DP16KD/PDPW16KD (ECP5),
//                  SB_RAM40_4K (iCE40). (* ram_style = "block" *) for yosys,
//                  (* rom_style = "block" *) for Vivado.
//   "distributed"  LUTs holding the contents (a LUT is a 2^k x 1 ROM), read
//                  into a flip-flop. Vivado: (* rom_style = "distributed" *).
//                  yosys builds LUT ROMs as logic (its LUT-RAM cells are for
//                  writable memories and refuse ROMs, `prune_rom`), so under
//                  `YOSYS this branch asks for (* rom_style = "logic" *).
//   "logic"        LUT logic + flip-flops, for the smallest ROMs (up to 16
//                  words: one LUT4 per data bit, no read multiplexer).
//                  yosys: (* rom_style = "logic" *); Vivado has no ROM style
//                  below distributed: (* rom_style = "distributed" *).
//   "auto"         no attribute: the tool's own heuristics (the default for
//                  a hand instantiation; the generator never emits it).
// For a ROM, "distributed" and "logic" give the same netlist in both tools;
// the names say which part of the size rule chose them.
//
// Parameter checking (used by every module of this library): an illegal
// parameter combination elaborates a generate branch that instantiates a
// module which does not exist and whose name states the violated rule, e.g.
// `ERROR_bnn_rom_DEPTH_must_be_at_least_1`. Verilator 5.006, Icarus 11 and
// yosys 0.23 all stop elaboration with that name in the message, and the
// branch is never elaborated for legal parameters. ($error in an initial
// block is SystemVerilog, and $display/$finish only fires at run time.)
`default_nettype none

module bnn_rom #(
    parameter integer WIDTH     = 8,      // bits per word (>= 1)
    parameter integer DEPTH     = 16,     // number of words (>= 1)
    parameter         INIT_FILE = "",     // $readmemh file, DEPTH hex words ("" = no init, reads return 0)
    parameter [87:0]  RAM_STYLE = "auto", // "block", "distributed", "logic" or "auto" (see above; 11 characters at most)
    parameter integer TILE_DEPTH      = 0,  // 0: one memory; > 0: words per bank of a tiled block ROM (a power of two)
    parameter integer TILE_WIDTH      = 0,  // tiled: bits per slice in the full banks
    parameter integer LAST_TILE_WIDTH = 0,  // tiled: bits per slice in the last bank
    parameter         TILE_FILES      = ""  // tiled: tile n reads {TILE_FILES, nnn, ".mem"}
) (
    input  wire                                        ap_clk,  // clock, rising edge
    input  wire                                        en,      // read enable
    input  wire [((DEPTH > 1) ? $clog2(DEPTH) : 1)-1:0] addr,    // word address, must be < DEPTH
    output reg  [WIDTH-1:0]                            rdata    // registered read data (2-cycle latency)
);

    // the styles as 88-bit strings (a string literal is zero-extended on the left)
    localparam [87:0] S_BLOCK = "block";
    localparam [87:0] S_DIST  = "distributed";
    localparam [87:0] S_LOGIC = "logic";
    localparam [87:0] S_AUTO  = "auto";

    generate
        if (WIDTH < 1) begin : g_err_width
            ERROR_bnn_rom_WIDTH_must_be_at_least_1 u_err ();
        end
        if (DEPTH < 1) begin : g_err_depth
            ERROR_bnn_rom_DEPTH_must_be_at_least_1 u_err ();
        end
        if (RAM_STYLE != S_BLOCK && RAM_STYLE != S_DIST && RAM_STYLE != S_LOGIC
            && RAM_STYLE != S_AUTO) begin : g_err_style
            ERROR_bnn_rom_RAM_STYLE_must_be_block_distributed_logic_or_auto u_err ();
        end
        if (TILE_DEPTH < 0) begin : g_err_tile_neg
            ERROR_bnn_rom_TILE_DEPTH_must_not_be_negative u_err ();
        end
        if (TILE_DEPTH > 0) begin : g_tile_checks
            if (RAM_STYLE != S_BLOCK) begin : g_err_tile_style
                ERROR_bnn_rom_TILE_DEPTH_needs_RAM_STYLE_block u_err ();
            end
            if ((TILE_DEPTH & (TILE_DEPTH - 1)) != 0) begin : g_err_tile_pow2
                ERROR_bnn_rom_TILE_DEPTH_must_be_a_power_of_two u_err ();
            end
            if (TILE_WIDTH < 1 || LAST_TILE_WIDTH < 1) begin : g_err_tile_width
                ERROR_bnn_rom_TILE_WIDTH_and_LAST_TILE_WIDTH_must_be_at_least_1 u_err ();
            end
            if (INIT_FILE != "" || TILE_FILES == "") begin : g_err_tile_files
                ERROR_bnn_rom_tiled_ROM_reads_TILE_FILES_and_needs_INIT_FILE_empty u_err ();
            end
            if (TILE_WIDTH >= 1 && LAST_TILE_WIDTH >= 1
                && ((DEPTH + TILE_DEPTH - 1) / TILE_DEPTH - 1) * ((WIDTH + TILE_WIDTH - 1) / TILE_WIDTH)
                   + (WIDTH + LAST_TILE_WIDTH - 1) / LAST_TILE_WIDTH > 1000) begin : g_err_tiles
                ERROR_bnn_rom_at_most_1000_tiles u_err ();
            end
        end
    endgenerate

    // Tile n's file-name tag: n in three decimal digits, ASCII, in the low 24
    // bits (integer arithmetic throughout, so no tool sees a truncation).
    function [31:0] tile_tag;
        input integer n;
        begin
            tile_tag = 32'h00303030 + ((n / 100) % 10) * 65536 + ((n / 10) % 10) * 256 + n % 10;
        end
    endfunction

    localparam integer AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;

    // One branch per style; `mem` and its initialisation are the same in each,
    // the two read stages as described above.
    generate
        if (RAM_STYLE == S_BLOCK && TILE_DEPTH > 0) begin : g_tiled
            localparam integer TB      = (TILE_DEPTH > 1) ? $clog2(TILE_DEPTH) : 1;
            localparam integer NB      = (DEPTH + TILE_DEPTH - 1) / TILE_DEPTH;
            localparam integer LAST_D  = DEPTH - (NB - 1) * TILE_DEPTH;
            localparam integer NS_FULL = (WIDTH + TILE_WIDTH - 1) / TILE_WIDTH;
            // every bank's read registers, bank b at [b*WIDTH +: WIDTH]
            wire [NB*WIDTH-1:0] bank_q;
            // the address within a bank (zero-extended when DEPTH <= TILE_DEPTH)
            wire [TB-1:0] a_lo = addr[((AW < TB) ? AW : TB)-1:0];
            genvar b, s;
            for (b = 0; b < NB; b = b + 1) begin : g_bank
                localparam integer BD = (b == NB - 1) ? LAST_D : TILE_DEPTH;
                localparam integer BA = (BD > 1) ? $clog2(BD) : 1;
                localparam integer TW = (b == NB - 1) ? LAST_TILE_WIDTH : TILE_WIDTH;
                localparam integer NS = (WIDTH + TW - 1) / TW;
                for (s = 0; s < NS; s = s + 1) begin : g_tile
                    localparam integer SW = (WIDTH - s * TW < TW) ? WIDTH - s * TW : TW;
                    localparam [31:0] TAG = tile_tag(b * NS_FULL + s);
                    (* ram_style = "block", rom_style = "block" *)
                    reg [SW-1:0] mem [0:BD-1];
                    initial $readmemh({TILE_FILES, TAG[23:0], ".mem"}, mem);
                    reg [SW-1:0] rd0;    // this RAM's read register
                    always @(posedge ap_clk) begin
                        if (en) rd0 <= mem[a_lo[BA-1:0]];
                    end
                    assign bank_q[b * WIDTH + s * TW +: SW] = rd0;
                end
            end
            if (NB > 1) begin : g_banks
                reg [AW-TB-1:0] sel_r;    // the bank of the word in the read registers
                always @(posedge ap_clk) begin
                    if (en) begin
                        sel_r <= addr[AW-1:TB];
                        rdata <= bank_q[sel_r * WIDTH +: WIDTH];
                    end
                end
            end else begin : g_one_bank
                always @(posedge ap_clk) begin
                    if (en) rdata <= bank_q;
                end
            end
        end else if (RAM_STYLE == S_BLOCK) begin : g_block
            (* ram_style = "block", rom_style = "block" *)
            reg [WIDTH-1:0] mem [0:DEPTH-1];
            integer i;
            initial begin
                if (INIT_FILE != "") begin
                    $readmemh(INIT_FILE, mem);
                end else begin
                    for (i = 0; i < DEPTH; i = i + 1) mem[i] = {WIDTH{1'b0}};
                end
            end
            reg [WIDTH-1:0] rd0;    // the RAM's read register
            always @(posedge ap_clk) begin
                if (en) begin
                    rd0   <= mem[addr];
                    rdata <= rd0;
                end
            end
        end else if (RAM_STYLE == S_DIST || RAM_STYLE == S_LOGIC) begin : g_lut
`ifdef YOSYS
            (* rom_style = "logic" *)
`else
            (* rom_style = "distributed" *)
`endif
            reg [WIDTH-1:0] mem [0:DEPTH-1];
            integer i;
            initial begin
                if (INIT_FILE != "") begin
                    $readmemh(INIT_FILE, mem);
                end else begin
                    for (i = 0; i < DEPTH; i = i + 1) mem[i] = {WIDTH{1'b0}};
                end
            end
            reg [AW-1:0] addr_r;    // the registered address
            always @(posedge ap_clk) begin
                if (en) begin
                    addr_r <= addr;
                    rdata  <= mem[addr_r];
                end
            end
        end else begin : g_auto
            reg [WIDTH-1:0] mem [0:DEPTH-1];
            integer i;
            initial begin
                if (INIT_FILE != "") begin
                    $readmemh(INIT_FILE, mem);
                end else begin
                    for (i = 0; i < DEPTH; i = i + 1) mem[i] = {WIDTH{1'b0}};
                end
            end
            reg [WIDTH-1:0] rd0;
            always @(posedge ap_clk) begin
                if (en) begin
                    rd0   <= mem[addr];
                    rdata <= rd0;
                end
            end
        end
    endgenerate

endmodule

`default_nettype wire

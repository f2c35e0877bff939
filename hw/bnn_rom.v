// bnn_rom.v -- synchronous-read ROM with read enable (weights / thresholds).
//
// Part of bnn-gen's hand-written RTL library (Verilog-2005).
//
// Behaviour (cycle exact): at a rising edge of ap_clk where en == 1,
// rdata <= mem[addr]. When en == 0 rdata holds its value. There is no reset
// (rdata is undefined until the first enabled read). Read latency is exactly
// one cycle, which lets yosys/Vivado map the array to block RAM (with the
// output register absorbed into the RAM) or to LUTRAM + a flip-flop.
//
// Contents come from INIT_FILE via $readmemh: one hexadecimal word per line,
// word 0 first, exactly DEPTH lines and a final newline (Verilator 5.006
// silently drops a last line that has no newline). Each word is WIDTH bits;
// element i of a packed word sits at bits [i*b, (i+1)*b) (LSB first).
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
    parameter         INIT_FILE = ""      // $readmemh file, DEPTH hex words ("" = no init, reads return 0)
) (
    input  wire                                        ap_clk,  // clock, rising edge
    input  wire                                        en,      // read enable
    input  wire [((DEPTH > 1) ? $clog2(DEPTH) : 1)-1:0] addr,    // word address, must be < DEPTH
    output reg  [WIDTH-1:0]                            rdata    // registered read data (1-cycle latency)
);

    generate
        if (WIDTH < 1) begin : g_err_width
            ERROR_bnn_rom_WIDTH_must_be_at_least_1 u_err ();
        end
        if (DEPTH < 1) begin : g_err_depth
            ERROR_bnn_rom_DEPTH_must_be_at_least_1 u_err ();
        end
    endgenerate

    reg [WIDTH-1:0] mem [0:DEPTH-1];

    integer i;
    initial begin
        if (INIT_FILE != "") begin
            $readmemh(INIT_FILE, mem);
        end else begin
            for (i = 0; i < DEPTH; i = i + 1) begin
                mem[i] = {WIDTH{1'b0}};
            end
        end
    end

    always @(posedge ap_clk) begin
        if (en) begin
            rdata <= mem[addr];
        end
    end

endmodule

`default_nettype wire

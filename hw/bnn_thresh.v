// bnn_thresh.v -- multi-threshold activation of one channel, one comparator
// per threshold, with a registered compare stage.
//
// ============================================================================
// FUNCTION AND TIMING (cycle exact)
// ============================================================================
// Threshold word layout: {dir, T'[NSTEPS-1], ..., T'[1], T'[0]}, T'[0] in the
// LSBs, dir at bit NSTEPS*TBITS (docs/mvtu-spec.md, section 5). acc and every
// T'[i] are two's complement (ACC_BITS and TBITS bits) and are compared
// exactly (both sign-extended to max(ACC_BITS, TBITS) bits).
//
// Registers (no enable, no reset; updated at every rising edge):
//   hit[i] <= (acc >= T'[i])        one comparator per threshold
//   dir_r  <= dir
// Output (combinational from those registers only):
//   count = dir_r ? NSTEPS - #hit : #hit     (= popcount(hit ^ {NSTEPS{dir_r}}))
//   out   = (count + OUT_BIAS) mod 2^OBITS
// So out during cycle e+1 is the activation of acc and tword during cycle e.
//
// The generator stores T'[i] = T[i] for dir = 0 (out counts acc >= T[i]) and
// T'[i] = T[i] + 1 for dir = 1 (out counts acc <= T[i]), since
// acc <= T  <=>  !(acc >= T + 1). The order of the T'[i] does not matter.
// Parameter checking: see bnn_rom.v (missing `ERROR_...` module).
`default_nettype none

module bnn_thresh #(
    parameter integer ACC_BITS = 8,   // accumulator width, two's complement (>= 1)
    parameter integer NSTEPS   = 1,   // number of thresholds (>= 1)
    parameter integer TBITS    = 8,   // threshold width, two's complement (>= 1)
    parameter integer OBITS    = 1,   // output width (>= 1)
    parameter integer OUT_BIAS = 0    // signed integer added to the count before truncation
) (
    input  wire                    ap_clk, // clock, rising edge
    input  wire [ACC_BITS-1:0]     acc,    // accumulator value (sampled at every edge)
    input  wire [NSTEPS*TBITS:0]   tword,  // {dir, T'[NSTEPS-1..0]} (sampled at every edge)
    output wire [OBITS-1:0]        out     // (count + OUT_BIAS) mod 2^OBITS of the registered compare
);

    generate
        if (NSTEPS < 1) begin : g_err_n
            ERROR_bnn_thresh_NSTEPS_must_be_at_least_1 u_err ();
        end
        if (ACC_BITS < 1 || TBITS < 1 || OBITS < 1) begin : g_err_w
            ERROR_bnn_thresh_widths_must_be_at_least_1 u_err ();
        end
    endgenerate

    // comparison width: both operands sign-extended to the wider one
    localparam integer CW = (ACC_BITS > TBITS) ? ACC_BITS : TBITS;

    wire [CW-1:0] acc_x;
    bnn_resize #(.IN_W(ACC_BITS), .OUT_W(CW), .SIGNED(1)) u_acc (.din(acc), .dout(acc_x));

    // Sign-extends a threshold to the compare width CW.
    function [CW-1:0] t_ext;
        input [TBITS-1:0] t;
        integer b;
        begin
            for (b = 0; b < CW; b = b + 1) t_ext[b] = t[(b < TBITS) ? b : TBITS - 1];
        end
    endfunction
    // The NSTEPS comparators as one loop, not a generate block of NSTEPS instances: the same
    // logic for synthesis, but Verilator keeps a loop longer than its unroll limit as a C++ loop
    // where it copied every instance (8-bit activations have 255 thresholds: 700 kB of C++ per
    // bnn_thresh, minutes of compiling in each test that builds one).
    reg  [NSTEPS-1:0] cmp;
    reg  [NSTEPS-1:0] hit;
    reg               dir_r;
    integer k;
    always @* begin
        for (k = 0; k < NSTEPS; k = k + 1) begin
            cmp[k] = ($signed(acc_x) >= $signed(t_ext(tword[k*TBITS +: TBITS])));
        end
    end
    always @(posedge ap_clk) begin
        hit   <= cmp;
        dir_r <= tword[NSTEPS*TBITS];
    end

    // count in 32 bits (NSTEPS < 2^31), then add the bias modulo 2^32
    wire [NSTEPS-1:0] sel = hit ^ {NSTEPS{dir_r}};
    reg  [31:0] count;
    integer i;
    always @* begin
        count = 32'd0;
        for (i = 0; i < NSTEPS; i = i + 1) begin
            count = count + {31'd0, sel[i]};
        end
    end
    wire [31:0] biased = count + OUT_BIAS;

    bnn_resize #(.IN_W(32), .OUT_W(OBITS), .SIGNED(1)) u_out (.din(biased), .dout(out));

endmodule

`default_nettype wire

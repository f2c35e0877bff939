// bnn_dot.v -- combinational SIMD-lane dot product of one PE (one MVTU
// synapse-fold step): dot = sum_{l<SIMD} w[l] * x[l].
//
// Lane l of w sits at w[l*WBITS +: WBITS], lane l of x at x[l*IBITS +: IBITS].
// Element types (WTYPE / ITYPE):
//   0 = bipolar, 1 bit: bit 1 means +1, bit 0 means -1
//   1 = unsigned integer, WBITS/IBITS bits
//   2 = signed two's complement integer, WBITS/IBITS bits
// Modes:
//   WTYPE == 0 && ITYPE == 0 (XNOR mode): dot = number of lanes where the
//     weight bit equals the input bit (popcount of XNOR), an unsigned count
//     in [0, SIMD], returned as an ACC_BITS-bit number.
//   otherwise: dot = signed sum of products of the decoded values, returned
//     modulo 2^ACC_BITS (two's complement). The caller accumulates modulo
//     2^ACC_BITS too, so the final sum is exact whenever it fits ACC_BITS.
// Parameter checking: see bnn_rom.v (missing `ERROR_...` module).
`default_nettype none

module bnn_dot #(
    parameter integer SIMD     = 4,   // lanes per step (>= 1)
    parameter integer WBITS    = 1,   // bits per weight (1 when WTYPE == 0, otherwise 1..8)
    parameter integer IBITS    = 1,   // bits per input element (1 when ITYPE == 0, otherwise 1..8)
    parameter integer WTYPE    = 0,   // weight type: 0 bipolar, 1 unsigned, 2 signed
    parameter integer ITYPE    = 0,   // input type: 0 bipolar, 1 unsigned, 2 signed
    parameter integer ACC_BITS = 8    // result width (>= 2), two's complement
) (
    input  wire [SIMD*WBITS-1:0] w,   // SIMD packed weights, lane 0 in the LSBs
    input  wire [SIMD*IBITS-1:0] x,   // SIMD packed inputs, lane 0 in the LSBs
    output reg  [ACC_BITS-1:0]   dot  // popcount (XNOR mode) or signed dot product mod 2^ACC_BITS
);

    generate
        if (SIMD < 1) begin : g_err_simd
            ERROR_bnn_dot_SIMD_must_be_at_least_1 u_err ();
        end
        if (ACC_BITS < 2) begin : g_err_acc
            ERROR_bnn_dot_ACC_BITS_must_be_at_least_2 u_err ();
        end
        if (WTYPE < 0 || WTYPE > 2 || ITYPE < 0 || ITYPE > 2) begin : g_err_type
            ERROR_bnn_dot_WTYPE_and_ITYPE_must_be_0_1_or_2 u_err ();
        end
        if ((WTYPE == 0 && WBITS != 1) || (ITYPE == 0 && IBITS != 1)) begin : g_err_bip
            ERROR_bnn_dot_bipolar_type_needs_1_bit u_err ();
        end
        if (WBITS < 1 || WBITS > 8 || IBITS < 1 || IBITS > 8) begin : g_err_bits
            ERROR_bnn_dot_WBITS_and_IBITS_must_be_1_to_8 u_err ();
        end
    endgenerate

    integer l;

    generate
        if (WTYPE == 0 && ITYPE == 0) begin : g_xnor
            // XNOR-popcount datapath
            wire [SIMD-1:0] match = ~(w ^ x);
            always @* begin
                dot = {ACC_BITS{1'b0}};
                for (l = 0; l < SIMD; l = l + 1) begin
                    dot = dot + {{(ACC_BITS-1){1'b0}}, match[l]};
                end
            end
        end else begin : g_mac
            // decoded operand widths: one extra bit makes every type signed
            localparam integer WD = WBITS + 1;
            localparam integer XD = IBITS + 1;
            localparam integer PW = WD + XD;          // exact product width
            wire [SIMD*ACC_BITS-1:0] prod;
            genvar g;
            for (g = 0; g < SIMD; g = g + 1) begin : g_lane
                wire [WBITS-1:0] wr = w[g*WBITS +: WBITS];
                wire [IBITS-1:0] xr = x[g*IBITS +: IBITS];
                wire [WD-1:0] wd;
                wire [XD-1:0] xd;
                if (WTYPE == 0) begin : g_wbip
                    assign wd = {~wr, 1'b1};          // 1 -> +1 (01), 0 -> -1 (11)
                end else if (WTYPE == 1) begin : g_wuns
                    assign wd = {1'b0, wr};
                end else begin : g_wsgn
                    assign wd = {wr[WBITS-1], wr};
                end
                if (ITYPE == 0) begin : g_xbip
                    assign xd = {~xr, 1'b1};
                end else if (ITYPE == 1) begin : g_xuns
                    assign xd = {1'b0, xr};
                end else begin : g_xsgn
                    assign xd = {xr[IBITS-1], xr};
                end
                // sign-extend both to the product width; the low PW bits of
                // the product are the exact signed product
                wire [PW-1:0] we = {{XD{wd[WD-1]}}, wd};
                wire [PW-1:0] xe = {{WD{xd[XD-1]}}, xd};
                wire [PW-1:0] p;
                // A 1-bit operand needs no multiplier: bipolar is a
                // conditional negation, binary (uint1) a select. (Otherwise
                // synthesis maps e.g. uint8 x bipolar lanes to DSPs.)
                // The decoded form of the 1-bit operand is then not needed.
                if (WTYPE == 0) begin : g_pneg_w
                    assign p = wr[0] ? xe : ({PW{1'b0}} - xe);
                    wire unused_we = &{1'b0, we};
                end else if (ITYPE == 0) begin : g_pneg_x
                    assign p = xr[0] ? we : ({PW{1'b0}} - we);
                    wire unused_xe = &{1'b0, xe};
                end else if (WTYPE == 1 && WBITS == 1) begin : g_psel_w
                    assign p = wr[0] ? xe : {PW{1'b0}};
                    wire unused_we = &{1'b0, we};
                end else if (ITYPE == 1 && IBITS == 1) begin : g_psel_x
                    assign p = xr[0] ? we : {PW{1'b0}};
                    wire unused_xe = &{1'b0, xe};
                end else begin : g_pmul
                    assign p = we * xe;
                end
                bnn_resize #(.IN_W(PW), .OUT_W(ACC_BITS), .SIGNED(1)) u_rs (
                    .din (p),
                    .dout(prod[g*ACC_BITS +: ACC_BITS])
                );
            end
            always @* begin
                dot = {ACC_BITS{1'b0}};
                for (l = 0; l < SIMD; l = l + 1) begin
                    dot = dot + prod[l*ACC_BITS +: ACC_BITS];
                end
            end
        end
    endgenerate

endmodule

`default_nettype wire

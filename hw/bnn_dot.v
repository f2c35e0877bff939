// bnn_dot.v -- one PE's pipelined SIMD-lane dot product (one MVTU
// synapse-fold step), at the exact width the arithmetic needs.
//
// ============================================================================
// FUNCTION
// ============================================================================
// Lane l of w sits at w[l*WBITS +: WBITS], lane l of x at x[l*IBITS +: IBITS].
// Element types (WTYPE / ITYPE):
//   0 = bipolar, 1 bit: bit 1 means +1, bit 0 means -1
//   1 = unsigned integer, WBITS/IBITS bits
//   2 = signed two's complement integer, WBITS/IBITS bits
// The mode follows from the types (docs/mvtu-spec.md, section 2):
//   XNOR   (WTYPE = ITYPE = 0):           term[l] = ~(w[l] ^ x[l]), 1 bit;
//                                         sum = popcount, in [0, SIMD]
//   OFFSET (exactly one type is 0):       u = the bipolar operand's bit,
//                                         v = the other operand (its own width
//                                         and signedness); term[l] = u[l] ? v[l] : 0;
//                                         sum = SUM term. The caller forms
//                                         2*SUM term - SUM v (bipolar = 2u-1).
//                                         With bipolar INPUTS (ITYPE = 0) v is the
//                                         weight, so SUM v is per PE: vsum = SUM w[l]
//                                         (second tree). With bipolar weights
//                                         SUM v = SUM x is shared by all PEs and
//                                         computed by the caller; vsum = 0.
//   SEL    (else, one operand uint1;      b = that operand's bit, v = the other;
//           the weight when both are):    term[l] = b[l] ? v[l] : 0; sum = SUM term
//   MAC    (otherwise):                   term[l] = w[l]*x[l], exact signed/unsigned
//                                         product of WBITS+IBITS bits; sum = SUM term
// sum and vsum are returned modulo 2^ACC_BITS (sign-extended from the tree
// width when the terms are signed, zero-extended otherwise); the caller
// accumulates modulo 2^ACC_BITS.
//
// ============================================================================
// TIMING (cycle exact; no enable, no reset: the datapath shifts every cycle)
// ============================================================================
//   PROD = (MAC) ? 1 : 0,  TS = max(1, clog2(SIMD))
//   sum/vsum after edge e+PROD+TS-1 = result for w, x during cycle e
// MAC: stage 1 registers the SIMD products; then TS adder-tree stages
// (bnn_addtree: one adder level per stage, a full-adder first level for
// 1-bit unsigned terms, every level only as wide as it needs). Other modes:
// the lane terms are formed in front of the first tree stage (an XNOR/AND or
// a select feeding the first adder level). Lanes are never extended to
// ACC_BITS before the sum.
//
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
    input  wire                  ap_clk, // clock, rising edge
    input  wire [SIMD*WBITS-1:0] w,      // SIMD packed weights, lane 0 in the LSBs
    input  wire [SIMD*IBITS-1:0] x,      // SIMD packed inputs, lane 0 in the LSBs
    output wire [ACC_BITS-1:0]   sum,    // SUM term mod 2^ACC_BITS, PROD+TS edges later
    output wire [ACC_BITS-1:0]   vsum    // OFFSET with ITYPE = 0: SUM w mod 2^ACC_BITS; else 0
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

    // mode: 0 XNOR, 1 OFFSET, 2 SEL, 3 MAC (docs/mvtu-spec.md, section 2)
    localparam integer MODE =
        (WTYPE == 0 && ITYPE == 0) ? 0 :
        (WTYPE == 0 || ITYPE == 0) ? 1 :
        ((WTYPE == 1 && WBITS == 1) || (ITYPE == 1 && IBITS == 1)) ? 2 : 3;
    localparam integer TS = (SIMD > 1) ? $clog2(SIMD) : 1;
    // which side carries the 1-bit selector in OFFSET / SEL mode (1 = weight)
    localparam integer SEL_W = (MODE == 1) ? ((WTYPE == 0) ? 1 : 0)
                             : ((WTYPE == 1 && WBITS == 1) ? 1 : 0);
    // term width and signedness
    localparam integer VBITS = (SEL_W == 1) ? IBITS : WBITS;   // OFFSET/SEL value width
    localparam integer VSGN  = (SEL_W == 1) ? ((ITYPE == 2) ? 1 : 0) : ((WTYPE == 2) ? 1 : 0);
    localparam integer PSGN  = (WTYPE == 2 || ITYPE == 2) ? 1 : 0;
    localparam integer PW    = WBITS + IBITS;                   // exact product width
    localparam integer TW    = (MODE == 0) ? 1 : (MODE == 3) ? PW : VBITS;
    localparam integer TSGN  = (MODE == 0) ? 0 : (MODE == 3) ? PSGN : VSGN;

    // tree operands: the lane operation (XNOR, select) is done inside
    // bnn_addtree, in front of its first adder level
    localparam integer OP = (MODE == 0) ? 1 : (MODE == 3) ? 0 : 2;
    wire [SIMD*TW-1:0] terms;
    wire [SIMD-1:0]    sel;

    genvar g;
    generate
        if (MODE == 0) begin : g_xnor
            assign terms = w;
            assign sel   = x;
        end else if (MODE == 1 || MODE == 2) begin : g_sel
            for (g = 0; g < SIMD; g = g + 1) begin : g_lane
                if (SEL_W == 1) begin : g_bw
                    assign terms[g*TW +: TW] = x[g*IBITS +: IBITS];
                    assign sel[g]            = w[g*WBITS];
                end else begin : g_bx
                    assign terms[g*TW +: TW] = w[g*WBITS +: WBITS];
                    assign sel[g]            = x[g*IBITS];
                end
            end
        end else begin : g_mac
            // stage 1: exact products (operands extended to PW bits; the low
            // PW bits of the product are exact)
            reg [SIMD*PW-1:0] prod;
            for (g = 0; g < SIMD; g = g + 1) begin : g_lane
                wire [PW-1:0] we;
                wire [PW-1:0] xe;
                bnn_resize #(.IN_W(WBITS), .OUT_W(PW), .SIGNED((WTYPE == 2) ? 1 : 0)) u_we (
                    .din(w[g*WBITS +: WBITS]), .dout(we)
                );
                bnn_resize #(.IN_W(IBITS), .OUT_W(PW), .SIGNED((ITYPE == 2) ? 1 : 0)) u_xe (
                    .din(x[g*IBITS +: IBITS]), .dout(xe)
                );
                always @(posedge ap_clk) begin
                    prod[g*PW +: PW] <= $signed(we) * $signed(xe);
                end
            end
            assign terms = prod;
            assign sel   = {SIMD{1'b0}};
        end
    endgenerate

    bnn_addtree #(
        .N(SIMD), .W(TW), .SIGNED(TSGN), .STAGES(TS), .OUT_W(ACC_BITS), .OP(OP)
    ) u_tree (
        .ap_clk(ap_clk), .terms(terms), .sel(sel), .sum(sum)
    );

    generate
        if (MODE == 1 && ITYPE == 0) begin : g_vsum
            // OFFSET with bipolar inputs: SUM v = SUM w is per PE
            bnn_addtree #(
                .N(SIMD), .W(WBITS), .SIGNED((WTYPE == 2) ? 1 : 0), .STAGES(TS), .OUT_W(ACC_BITS)
            ) u_vtree (
                .ap_clk(ap_clk), .terms(w), .sel({SIMD{1'b0}}), .sum(vsum)
            );
        end else begin : g_novsum
            assign vsum = {ACC_BITS{1'b0}};
        end
    endgenerate

endmodule

`default_nettype wire

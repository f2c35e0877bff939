// bnn_addtree.v -- pipelined adder tree: one adder level per register stage,
// every level exactly as wide as its operands need.
//
// ============================================================================
// FUNCTION AND TIMING (cycle exact)
// ============================================================================
//   term[i] = terms[i]                      OP = 0
//           = ~(terms[i] ^ sel[i])          OP = 1 (W = 1: an XNOR lane)
//           = sel[i] ? terms[i] : 0         OP = 2 (a select lane)
//   sum after edge e+STAGES-1 = (sum over i < N of term[i] during cycle e)
//                               mod 2^OUT_W, sign- (SIGNED = 1) or zero-
//                               extended (SIGNED = 0) to OUT_W bits
// i.e. exactly STAGES register stages from terms to sum, no enable, no reset:
// the tree shifts every cycle (the caller carries the valid flags). Term i
// sits at terms[i*W +: W], two's complement when SIGNED = 1, else unsigned.
// The lane operation lives here (not in the caller) so that synthesis with
// the hierarchy kept can merge it into the first adder level's LUTs.
//
// Levels (level 0 = the terms, combinational input; level k >= 1 is the
// register of stage k):
//   C3 = (W == 1 && SIGNED == 0 && N >= 3)
//   level 1, C3:     n1 = ceil(N/3) entries of 2 bits; entry i = the number
//                    of ones among terms 3i, 3i+1, 3i+2 (a full adder: on
//                    LUT6 two LUTs take the three lanes' six inputs, e.g. an
//                    XNOR or AND of weight and input bit per lane)
//   otherwise:       n_k = ceil(n_{k-1}/2) entries of w_k = min(w_{k-1}+1, OUT_W)
//                    bits; entry i = entry 2i + entry 2i+1 of level k-1
//                    (entry 2i alone, extended, when 2i+1 = n_{k-1})
//   LEVELS = number of levels until one entry is left (0 when N = 1)
// Stages LEVELS+1 .. STAGES are plain delay registers of the final sum (they
// exist when the compressor level makes the tree shorter than the caller's
// stage count, e.g. N = 3 with STAGES = clog2(3) = 2). STAGES >= max(1,
// LEVELS) is required; clog2(N) always suffices.
// Widths above OUT_W are dropped (arithmetic modulo 2^OUT_W): the caller only
// needs the sum modulo 2^OUT_W.
//
// Parameter checking: see bnn_rom.v (missing `ERROR_...` module).
`default_nettype none

module bnn_addtree #(
    parameter integer N      = 4,   // number of terms (>= 1)
    parameter integer W      = 1,   // bits per term (>= 1)
    parameter integer SIGNED = 0,   // 1: terms are two's complement, 0: unsigned
    parameter integer STAGES = 2,   // register stages (>= 1, >= the number of levels)
    parameter integer OUT_W  = 8,   // result width (>= 2)
    parameter integer OP     = 0    // lane operation: 0 none, 1 XNOR with sel (W = 1), 2 select by sel
) (
    input  wire             ap_clk, // clock, rising edge
    input  wire [N*W-1:0]   terms,  // N terms (operands of the lane operation), term 0 in the LSBs
    input  wire [N-1:0]     sel,    // second lane operand (OP = 1, 2); ignored when OP = 0
    output wire [OUT_W-1:0] sum     // registered sum, STAGES edges after the terms
);

    // ------------------------------------------------------------------
    // level geometry (constant functions)
    // ------------------------------------------------------------------
    localparam integer C3 = (W == 1 && SIGNED == 0 && N >= 3) ? 1 : 0;

    // entries of level k
    function integer f_n;
        input integer lvl;
        integer fj, fnv;
        begin
            fnv = N;
            for (fj = 1; fj <= lvl; fj = fj + 1) begin
                if (fj == 1 && C3 == 1) begin
                    fnv = (fnv + 2) / 3;
                end else begin
                    fnv = (fnv + 1) / 2;
                end
            end
            f_n = fnv;
        end
    endfunction

    // bits per entry of level k
    function integer f_w;
        input integer lvl;
        integer fj, fwv;
        begin
            fwv = W;
            for (fj = 1; fj <= lvl; fj = fj + 1) begin
                if (fj == 1 && C3 == 1) begin
                    fwv = 2;
                end else begin
                    fwv = fwv + 1;
                end
                if (fwv > OUT_W) begin
                    fwv = OUT_W;
                end
            end
            f_w = fwv;
        end
    endfunction

    // number of levels
    function integer f_levels;
        input integer dummy;
        integer fk;
        begin
            fk = 0;
            while (f_n(fk) > 1) begin
                fk = fk + 1;
            end
            f_levels = fk + dummy;
        end
    endfunction

    // offset of level k in the flat level vector (level 0 first)
    function integer f_off;
        input integer lvl;
        integer fj, fov;
        begin
            fov = 0;
            for (fj = 0; fj < lvl; fj = fj + 1) begin
                fov = fov + f_n(fj) * f_w(fj);
            end
            f_off = fov;
        end
    endfunction

    localparam integer LEVELS = f_levels(0);
    localparam integer TOT    = f_off(LEVELS + 1);
    localparam integer WL     = f_w(LEVELS);       // width of the final sum
    localparam integer DELAY  = STAGES - LEVELS;   // plain delay stages

    generate
        if (N < 1 || W < 1) begin : g_err_nw
            ERROR_bnn_addtree_N_and_W_must_be_at_least_1 u_err ();
        end
        if (OUT_W < 2) begin : g_err_out
            ERROR_bnn_addtree_OUT_W_must_be_at_least_2 u_err ();
        end
        if (STAGES < 1 || STAGES < LEVELS) begin : g_err_stages
            ERROR_bnn_addtree_STAGES_must_cover_the_tree_levels u_err ();
        end
    endgenerate

    // all levels, level 0 = the terms (combinational), level k >= 1 registered
    wire [TOT-1:0] lv;

    genvar k, i;
    generate
        if (OP == 1) begin : g_op_xnor
            assign lv[N*W-1:0] = ~(terms ^ sel);
        end else if (OP == 2) begin : g_op_sel
            for (i = 0; i < N; i = i + 1) begin : g_lane
                assign lv[i*W +: W] = sel[i] ? terms[i*W +: W] : {W{1'b0}};
            end
        end else begin : g_op_none
            assign lv[N*W-1:0] = terms;
            wire unused_sel = &{1'b0, sel};
        end
        if (OP == 1 && W != 1) begin : g_err_op
            ERROR_bnn_addtree_OP_1_needs_W_1 u_err ();
        end
    endgenerate

    generate
        for (k = 1; k <= LEVELS; k = k + 1) begin : g_lvl
            localparam integer NP = f_n(k - 1);
            localparam integer WP = f_w(k - 1);
            localparam integer OFP = f_off(k - 1);
            localparam integer NK = f_n(k);
            localparam integer WK = f_w(k);
            localparam integer OFK = f_off(k);
            wire [NK*WK-1:0] nxt;
            reg  [NK*WK-1:0] r;
            for (i = 0; i < NK; i = i + 1) begin : g_e
                if (k == 1 && C3 == 1) begin : g_fa
                    // full adder over up to three 1-bit terms
                    wire b0 = lv[OFP + 3*i];
                    wire b1;
                    wire b2;
                    if (3*i + 2 < NP) begin : g_3
                        assign b1 = lv[OFP + 3*i + 1];
                        assign b2 = lv[OFP + 3*i + 2];
                    end else if (3*i + 1 < NP) begin : g_2
                        assign b1 = lv[OFP + 3*i + 1];
                        assign b2 = 1'b0;
                    end else begin : g_1
                        assign b1 = 1'b0;
                        assign b2 = 1'b0;
                    end
                    assign nxt[i*WK +: WK] = {(b0 & b1) | (b2 & (b0 ^ b1)), b0 ^ b1 ^ b2};
                end else begin : g_add
                    wire [WK-1:0] a;
                    bnn_resize #(.IN_W(WP), .OUT_W(WK), .SIGNED(SIGNED)) u_a (
                        .din (lv[OFP + (2*i)*WP +: WP]),
                        .dout(a)
                    );
                    if (2*i + 1 < NP) begin : g_two
                        wire [WK-1:0] b;
                        bnn_resize #(.IN_W(WP), .OUT_W(WK), .SIGNED(SIGNED)) u_b (
                            .din (lv[OFP + (2*i+1)*WP +: WP]),
                            .dout(b)
                        );
                        assign nxt[i*WK +: WK] = a + b;
                    end else begin : g_one
                        assign nxt[i*WK +: WK] = a;
                    end
                end
            end
            always @(posedge ap_clk) begin
                r <= nxt;
            end
            assign lv[OFK +: NK*WK] = r;
        end
    endgenerate

    // final value and the plain delay stages
    localparam integer OL = f_off(LEVELS);
    wire [WL-1:0] fin = lv[OL +: WL];
    wire [WL-1:0] dly;
    generate
        if (DELAY > 0) begin : g_dly
            reg [DELAY*WL-1:0] d;
            if (DELAY > 1) begin : g_chain
                always @(posedge ap_clk) begin
                    d <= {d[(DELAY-1)*WL-1:0], fin};
                end
            end else begin : g_one
                always @(posedge ap_clk) begin
                    d <= fin;
                end
            end
            assign dly = d[(DELAY-1)*WL +: WL];
        end else begin : g_nodly
            assign dly = fin;
        end
    endgenerate

    bnn_resize #(.IN_W(WL), .OUT_W(OUT_W), .SIGNED(SIGNED)) u_out (.din(dly), .dout(sum));

endmodule

`default_nettype wire

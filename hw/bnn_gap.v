// bnn_gap.v -- global average pooling without the division: per channel, the
// integer sum over all pixels of a frame, AXI-Stream in and out.
//
// ============================================================================
// FUNCTION
// ============================================================================
// Input: PIXELS pixels per frame, each CW words, pixel outer, word inner (an
// NHWC image as the producer streams it, channels folded into CW words of
// LANES lanes). Element l of a word sits at [l*IBITS +: IBITS] and is
//   ITYPE 0: bipolar, 1 bit, bit 1 = +1, bit 0 = -1;
//   ITYPE 1: unsigned, IBITS bits;
//   ITYPE 2: two's complement, IBITS bits.
// Lane l of word cw is channel slot s = cw*LANES + l.
// Output: per frame CW words of LANES sums, sum l of word cw at
// [l*ABITS +: ABITS]: the sum over the PIXELS pixels of slot s, modulo
// 2^ABITS, when s < CHANNELS; 0 when s >= CHANNELS (a padded slot: a padded
// bipolar slot carries bit 0 = -1 in every pixel, which must not reach the
// next layer as -PIXELS). The caller sizes ABITS so that every sum of PIXELS
// input values fits (two's complement when it can be negative); then every
// partial sum fits too, and the output is the exact sum. The division by
// PIXELS is not done here: the compiler folds it into the next layer's
// thresholds or the float output scale (docs/hardware.md, "Global pooling").
//
// ============================================================================
// TIMING (cycle exact; the cycle simulator src/cyclesim/gap.rs implements
// this text)
// ============================================================================
// Cycle c ends at rising edge c; registers change only at rising edges;
// ap_rst_n is synchronous, active low, and clears the registers marked (R).
//
// Registers
//   pix (R) in [0, PIXELS), cw (R) in [0, CW): the next input word's pixel
//   and word; acc[CW] (LANES*ABITS bits each, not reset): the running sums;
//   output queue as in bnn_pool: q_cnt (R) in {0,1,2}, q_head, q_tail;
//   m_axis_tvalid = (q_cnt != 0), m_axis_tdata = q_head.
//
// Combinational signals
//   s_axis_tready = (q_cnt != 2)          (registers only)
//   take   = s_axis_tvalid && s_axis_tready
//   x[l]   = value of input lane l, extended to ABITS bits
//   s[l]   = ((pix == 0) ? 0 : acc[cw][l]) + x[l]   (mod 2^ABITS)
//   push   = take && pix == PIXELS-1
//   result = per lane: (cw*LANES + l < CHANNELS) ? s[l] : 0
//   pop    = m_axis_tvalid && m_axis_tready
//
// At each rising edge (after reset)
//   if take:  if pix != PIXELS-1: acc[cw] <= s;
//             advance cw (inner, wraps at CW) and pix (outer, wraps at PIXELS)
//   queue:    push && !pop: q_cnt+1, data into q_head if q_cnt==0 else q_tail;
//             pop && !push: q_cnt-1, and q_head <= q_tail if q_cnt was 2;
//             push && pop : q_cnt unchanged (it is 1), q_head <= result.
//             (push with q_cnt==2 cannot happen: s_axis_tready is 0 then.)
//
// Latency: the handshake of the last pixel's word cw at edge t pushes output
// word cw; m_axis_tvalid is high from cycle t+1. One input word per cycle
// when the consumer keeps up (CW output words per PIXELS*CW input words). A
// full queue (q_cnt == 2) stops the input for at least one cycle even if the
// consumer takes a word in that cycle. Reset state: pix = cw = 0, q_cnt = 0,
// so s_axis_tready is 1 in the first cycle after reset.
//
// ============================================================================
// RESOURCES
// ============================================================================
// acc: CW x LANES*ABITS bits (LUTRAM/registers, one combinational read, one
// write port), LANES ABITS-bit adders, LANES slot comparators against
// constants, the 2-word output queue (2*LANES*ABITS bits), counters of
// clog2(PIXELS) and clog2(CW) bits.
//
// Parameter checking: see bnn_rom.v (missing `ERROR_...` module).
`default_nettype none

module bnn_gap #(
    parameter integer CW       = 2,   // words per pixel (>= 1)
    parameter integer LANES    = 4,   // elements per word (>= 1)
    parameter integer PIXELS   = 9,   // pixels per frame, H*W (>= 1)
    parameter integer CHANNELS = 8,   // true channels, 1 .. CW*LANES
    parameter integer ITYPE    = 1,   // 0 bipolar, 1 unsigned, 2 signed
    parameter integer IBITS    = 2,   // bits per input element (1 if ITYPE = 0)
    parameter integer ABITS    = 6    // bits per sum: IBITS < ABITS, 2 <= ABITS <= 63
) (
    input  wire                     ap_clk,         // clock
    input  wire                     ap_rst_n,       // synchronous reset, active low
    input  wire [LANES*IBITS-1:0]   s_axis_tdata,   // pixels (pixel outer, cw inner)
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,
    output wire [LANES*ABITS-1:0]   m_axis_tdata,   // sums, CW words per frame (registered)
    output wire                     m_axis_tvalid,
    input  wire                     m_axis_tready
);

    localparam integer XW  = LANES * ABITS;
    localparam integer PXW = (PIXELS > 1) ? $clog2(PIXELS) : 1;
    localparam integer CCW = (CW > 1) ? $clog2(CW) : 1;
    localparam integer PIXELS_M1 = PIXELS - 1;
    localparam integer CW_M1 = CW - 1;
    localparam [PXW-1:0] PIX_LAST = PIXELS_M1[PXW-1:0];
    localparam [CCW-1:0] CW_LAST  = CW_M1[CCW-1:0];
    localparam [PXW-1:0] PIX_ONE  = 1;
    localparam [CCW-1:0] CW_ONE   = 1;

    generate
        if (CW < 1 || LANES < 1 || PIXELS < 1 || CHANNELS < 1 || CHANNELS > CW * LANES)
        begin : g_err_dims
            ERROR_bnn_gap_CW_LANES_PIXELS_positive_and_CHANNELS_1_to_CW_times_LANES u_err ();
        end
        if (ITYPE < 0 || ITYPE > 2 || (ITYPE == 0 && IBITS != 1) || IBITS < 1) begin : g_err_type
            ERROR_bnn_gap_ITYPE_must_be_0_with_IBITS_1_or_1_or_2 u_err ();
        end
        if (ABITS <= IBITS || ABITS < 2 || ABITS > 63) begin : g_err_abits
            ERROR_bnn_gap_ABITS_must_exceed_IBITS_and_be_2_to_63 u_err ();
        end
    endgenerate

    reg  [PXW-1:0] pix;
    reg  [CCW-1:0] cw;
    reg  [XW-1:0]  acc [0:CW-1];
    reg  [1:0]     q_cnt;
    reg  [XW-1:0]  q_head, q_tail;

    wire pix_last = (pix == PIX_LAST);
    wire cw_last  = (cw == CW_LAST);
    wire first    = (pix == {PXW{1'b0}});

    assign s_axis_tready = (q_cnt != 2'd2);
    wire take = s_axis_tvalid && s_axis_tready;

    // lane-wise running sums and the masked result
    wire [XW-1:0] cur = acc[cw];
    wire [XW-1:0] s;
    wire [XW-1:0] result;
    genvar l;
    generate
        for (l = 0; l < LANES; l = l + 1) begin : g_lane
            wire [IBITS-1:0] xi = s_axis_tdata[l*IBITS +: IBITS];
            wire [ABITS-1:0] x;
            if (ITYPE == 0) begin : g_bip
                // bit 1 = +1, bit 0 = -1
                assign x = xi[0] ? {{(ABITS-1){1'b0}}, 1'b1} : {ABITS{1'b1}};
            end else if (ITYPE == 2) begin : g_sext
                assign x = {{(ABITS-IBITS){xi[IBITS-1]}}, xi};
            end else begin : g_zext
                assign x = {{(ABITS-IBITS){1'b0}}, xi};
            end
            wire [ABITS-1:0] a = first ? {ABITS{1'b0}} : cur[l*ABITS +: ABITS];
            assign s[l*ABITS +: ABITS] = a + x;
            // Slot cw*LANES + l is a true channel iff cw < LIMIT (ceil((CHANNELS - l) / LANES),
            // >= 0 since CHANNELS >= 1 > l - LANES).
            localparam integer LIMIT = (CHANNELS - l + LANES - 1) / LANES;
            wire keep;
            if (LIMIT >= CW) begin : g_all
                assign keep = 1'b1;
            end else if (LIMIT == 0) begin : g_none
                assign keep = 1'b0;
            end else begin : g_some
                localparam [CCW-1:0] LIM = LIMIT[CCW-1:0];
                assign keep = (cw < LIM);
            end
            assign result[l*ABITS +: ABITS] = keep ? s[l*ABITS +: ABITS] : {ABITS{1'b0}};
        end
    endgenerate

    wire push = take && pix_last;
    wire pop  = (q_cnt != 2'd0) && m_axis_tready;

    assign m_axis_tvalid = (q_cnt != 2'd0);
    assign m_axis_tdata  = q_head;

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            pix   <= {PXW{1'b0}};
            cw    <= {CCW{1'b0}};
            q_cnt <= 2'd0;
        end else begin
            if (take) begin
                cw <= cw_last ? {CCW{1'b0}} : cw + CW_ONE;
                if (cw_last) begin
                    pix <= pix_last ? {PXW{1'b0}} : pix + PIX_ONE;
                end
            end
            if (push && !pop) begin
                q_cnt <= q_cnt + 2'd1;
            end else if (pop && !push) begin
                q_cnt <= q_cnt - 2'd1;
            end
        end
    end

    // running sums (not reset: pixel 0 overwrites them)
    always @(posedge ap_clk) begin
        if (take && !pix_last) begin
            acc[cw] <= s;
        end
    end

    // output queue data
    always @(posedge ap_clk) begin
        if (pop) begin
            if (q_cnt == 2'd2) begin
                q_head <= q_tail;
            end else if (push) begin
                q_head <= result;
            end
        end else if (push) begin
            if (q_cnt == 2'd0) begin
                q_head <= result;
            end else begin
                q_tail <= result;
            end
        end
    end

endmodule

`default_nettype wire

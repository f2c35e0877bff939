// bnn_pool.v -- max-pool reduction: lane-wise maximum over a window,
// AXI-Stream in and out.
//
// ============================================================================
// FUNCTION
// ============================================================================
// Input: KK window positions per output pixel, each CW words, position outer,
// cw inner (what bnn_swg emits with KK = KH*KW). Each word holds LANES
// elements of EBITS bits, element l at [l*EBITS +: EBITS]. Output: per output
// pixel CW words, word cw = the lane-wise maximum over the KK positions of
// the input words cw. Elements are two's complement when SIGNED = 1, unsigned
// when SIGNED = 0 (bipolar with bit 1 = +1 is unsigned 1-bit: max = OR).
//
// ============================================================================
// TIMING (cycle exact; this is docs/swg-pool-spec.md, which the cycle
// simulator src/cyclesim/pool.rs implements too)
// ============================================================================
// Cycle c ends at rising edge c; registers change only at rising edges;
// ap_rst_n is synchronous, active low, and clears the registers marked (R).
//
// Registers
//   pos (R) in [0, KK), cw (R) in [0, CW): the next input word's position;
//   acc[CW] (words, not reset): the running maxima;
//   output queue as in bnn_mvtu: q_cnt (R) in {0,1,2}, q_head, q_tail;
//   m_axis_tvalid = (q_cnt != 0), m_axis_tdata = q_head.
//
// Combinational signals
//   s_axis_tready = (q_cnt != 2)          (registers only)
//   take   = s_axis_tvalid && s_axis_tready
//   m      = (pos == 0) ? s_axis_tdata : lanemax(acc[cw], s_axis_tdata)
//   push   = take && pos == KK-1, result = m
//   pop    = m_axis_tvalid && m_axis_tready
//
// At each rising edge (after reset)
//   if take:  if pos != KK-1: acc[cw] <= m;
//             advance cw (inner, wraps at CW) and pos (outer, wraps at KK)
//   queue:    push && !pop: q_cnt+1, data into q_head if q_cnt==0 else q_tail;
//             pop && !push: q_cnt-1, and q_head <= q_tail if q_cnt was 2;
//             push && pop : q_cnt unchanged (it is 1), q_head <= result.
//             (push with q_cnt==2 cannot happen: s_axis_tready is 0 then.)
//
// Latency: an input handshake at edge t that completes a window pushes its
// word; m_axis_tvalid is high from cycle t+1. One word per cycle in (and one
// word per KK cycles out) when the consumer keeps up; with KK = 1 one word
// per cycle in and out. A full queue (q_cnt == 2) stops the input for at
// least one cycle even if the consumer takes a word in that cycle.
// Reset state: pos = cw = 0, q_cnt = 0, so s_axis_tready is 1 in the first
// cycle after reset.
//
// ============================================================================
// RESOURCES
// ============================================================================
// acc: CW x LANES*EBITS bits (LUTRAM/registers, one combinational read, one
// write port), LANES EBITS-bit comparators + muxes, the 2-word output queue
// (2*LANES*EBITS bits), counters of clog2(KK) and clog2(CW) bits.
//
// Parameter checking: see bnn_rom.v (missing `ERROR_...` module).
`default_nettype none

module bnn_pool #(
    parameter integer CW     = 2,   // words per output pixel (>= 1)
    parameter integer LANES  = 4,   // elements per word (>= 1)
    parameter integer EBITS  = 1,   // bits per element (>= 1)
    parameter integer SIGNED = 0,   // 1: two's complement elements, 0: unsigned
    parameter integer KK     = 4    // window positions per output pixel (>= 1)
) (
    input  wire                     ap_clk,         // clock
    input  wire                     ap_rst_n,       // synchronous reset, active low
    input  wire [LANES*EBITS-1:0]   s_axis_tdata,   // window words (position outer, cw inner)
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,
    output wire [LANES*EBITS-1:0]   m_axis_tdata,   // maxima, CW words per pixel (registered)
    output wire                     m_axis_tvalid,
    input  wire                     m_axis_tready
);

    localparam integer XW  = LANES * EBITS;
    localparam integer PSW = (KK > 1) ? $clog2(KK) : 1;
    localparam integer CCW = (CW > 1) ? $clog2(CW) : 1;
    localparam integer KK_M1 = KK - 1;
    localparam integer CW_M1 = CW - 1;
    localparam [PSW-1:0] POS_LAST = KK_M1[PSW-1:0];
    localparam [CCW-1:0] CW_LAST  = CW_M1[CCW-1:0];
    localparam [PSW-1:0] POS_ONE  = 1;
    localparam [CCW-1:0] CW_ONE   = 1;

    generate
        if (CW < 1 || LANES < 1 || EBITS < 1 || KK < 1) begin : g_err_dims
            ERROR_bnn_pool_CW_LANES_EBITS_KK_must_be_positive u_err ();
        end
        if (SIGNED != 0 && SIGNED != 1) begin : g_err_signed
            ERROR_bnn_pool_SIGNED_must_be_0_or_1 u_err ();
        end
    endgenerate

    reg  [PSW-1:0] pos;
    reg  [CCW-1:0] cw;
    reg  [XW-1:0]  acc [0:CW-1];
    reg  [1:0]     q_cnt;
    reg  [XW-1:0]  q_head, q_tail;

    wire pos_last = (pos == POS_LAST);
    wire cw_last  = (cw == CW_LAST);
    wire first    = (pos == {PSW{1'b0}});

    assign s_axis_tready = (q_cnt != 2'd2);
    wire take = s_axis_tvalid && s_axis_tready;

    // lane-wise maximum of the running value and the input word
    wire [XW-1:0] cur = acc[cw];
    wire [XW-1:0] m;
    genvar l;
    generate
        for (l = 0; l < LANES; l = l + 1) begin : g_lane
            wire [EBITS-1:0] a = cur[l*EBITS +: EBITS];
            wire [EBITS-1:0] b = s_axis_tdata[l*EBITS +: EBITS];
            wire gt;
            if (SIGNED != 0) begin : g_s
                assign gt = ($signed(b) > $signed(a));
            end else begin : g_u
                assign gt = (b > a);
            end
            assign m[l*EBITS +: EBITS] = (first || gt) ? b : a;
        end
    endgenerate

    wire push = take && pos_last;
    wire pop  = (q_cnt != 2'd0) && m_axis_tready;

    assign m_axis_tvalid = (q_cnt != 2'd0);
    assign m_axis_tdata  = q_head;

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            pos   <= {PSW{1'b0}};
            cw    <= {CCW{1'b0}};
            q_cnt <= 2'd0;
        end else begin
            if (take) begin
                cw <= cw_last ? {CCW{1'b0}} : cw + CW_ONE;
                if (cw_last) begin
                    pos <= pos_last ? {PSW{1'b0}} : pos + POS_ONE;
                end
            end
            if (push && !pop) begin
                q_cnt <= q_cnt + 2'd1;
            end else if (pop && !push) begin
                q_cnt <= q_cnt - 2'd1;
            end
        end
    end

    // running maxima (not reset: position 0 overwrites them)
    always @(posedge ap_clk) begin
        if (take && !pos_last) begin
            acc[cw] <= m;
        end
    end

    // output queue data
    always @(posedge ap_clk) begin
        if (pop) begin
            if (q_cnt == 2'd2) begin
                q_head <= q_tail;
            end else if (push) begin
                q_head <= m;
            end
        end else if (push) begin
            if (q_cnt == 2'd0) begin
                q_head <= m;
            end else begin
                q_tail <= m;
            end
        end
    end

endmodule

`default_nettype wire

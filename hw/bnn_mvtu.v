// bnn_mvtu.v -- matrix-vector-threshold unit (FINN MVAU semantics), fully
// pipelined, AXI-Stream in and out, weight/threshold ROMs outside the module.
//
// ============================================================================
// FUNCTION
// ============================================================================
// For every input vector x (MW elements) it computes, for each of the MH
// output channels r:
//   acc[r] = sum_{k<MW} W[r][k] * x[k]                     (non-XNOR modes)
//   acc[r] = #{k < MW : wbit[r][k] == xbit[k]}            (XNOR mode, WTYPE=ITYPE=0)
//   NSTEPS > 0 : out[r] = (#{i : acc[r] >= T[r][i]} + OUT_BIAS) mod 2^OBITS, dir[r] = 0
//                out[r] = (#{i : acc[r] <= T[r][i]} + OUT_BIAS) mod 2^OBITS, dir[r] = 1
//   NSTEPS = 0 : out[r] = acc[r]                 (non-XNOR, OBITS = ACC_BITS)
//                out[r] = 2*acc[r] - XNOR_FANIN  (XNOR mode, OBITS = ACC_BITS)
// Arithmetic is modulo 2^ACC_BITS; results are exact when every final acc
// (and, in XNOR no-activation mode, 2*acc - XNOR_FANIN) fits in ACC_BITS
// bits two's complement. In XNOR mode the thresholds are in the popcount
// domain. Lane decoding: see bnn_dot.v; threshold unit: see bnn_thresh.v.
//
// Folding: NF = MH/PE neuron folds, SF = MW/SIMD synapse folds.
// Input word (SIMD*IBITS bits): lane l of synapse fold sf is input channel
// sf*SIMD + l, at bits [l*IBITS +: IBITS]. Output word (PE*OBITS bits): lane
// pe of neuron fold nf is output channel nf*PE + pe, at [pe*OBITS +: OBITS].
// Weight ROM of PE p (outside): word address nf*SF + sf holds the SIMD
// weights W[nf*PE+p][sf*SIMD + l], lane l at [l*WBITS +: WBITS]; presented
// on wmem_rdata[p*SIMD*WBITS +: SIMD*WBITS]. Threshold ROM of PE p: word
// address nf holds {dir, T[NSTEPS-1], ..., T[0]} (TBITS each, T[0] in the
// LSBs) of channel nf*PE+p, presented on
// tmem_rdata[p*(NSTEPS*TBITS+1) +: NSTEPS*TBITS+1]. Both ROMs must behave
// like bnn_rom: at a rising edge with en=1, rdata <= mem[addr]; with en=0
// rdata holds.
//
// ============================================================================
// TIMING (cycle exact; a beat = one (nf, sf) step of one vector)
// ============================================================================
// Cycle c ends at rising edge c; "X during c" is the value between edges c-1
// and c. All registers below update only at rising edges; ap_rst_n is
// synchronous, active low, and clears the registers marked (R).
//
// Registers
//   Stage A (issue):  a_nf (R) in [0,NF), a_sf (R) in [0,SF), a_addr (R) =
//                     a_nf*SF + a_sf (kept as a counter).
//   Stage B (fetch):  b_valid (R), b_first, b_last, b_x (the input word: a
//                     copy of s_axis_tdata, or the input-buffer word being
//                     replayed), and the PE weight-ROM output registers.
//   Stage C (dot):    c_valid (R), c_first, c_last, c_nf, c_dot[pe] = SIMD-lane
//                     dot product of b_x and the PE's weights (bnn_dot).
//   Stage D (acc):    acc[pe], d_last (R) = "acc holds a finished sum not yet
//                     moved to the output queue", and the PE threshold-ROM
//                     output registers.
//   Output queue:     q_cnt (R) in {0,1,2}, q_head, q_tail.
//                     m_axis_tvalid = (q_cnt != 0), m_axis_tdata = q_head.
//
// Combinational signals (adv and s_axis_tready are functions of registers
// only; nothing depends combinationally on m_axis_tready except pop):
//   adv   = !(d_last && q_cnt == 2)         -- the single pipeline-advance signal
//   a_in  = (a_nf == 0)                      -- this beat reads the stream
//   a_valid = !a_in || s_axis_tvalid         -- stage A has a beat
//   issue = adv && a_valid
//   s_axis_tready = adv && a_in              (never depends on m_axis_tready or
//                                              s_axis_tvalid)
//   wmem_en = issue, wmem_addr = a_addr
//   tmem_en = adv && c_valid && c_last, tmem_addr = c_nf   (NSTEPS > 0;
//             with NSTEPS = 0 both are constant 0 and tmem_rdata is ignored)
//   push  = adv && d_last;  pop = m_axis_tvalid && m_axis_tready
//
// At each rising edge (after reset; with adv = 0 only the queue can change):
//   if issue: a_sf <= (a_sf==SF-1) ? 0 : a_sf+1;
//             if a_sf==SF-1: a_nf <= (a_nf==NF-1) ? 0 : a_nf+1;
//             a_addr <= (a_addr==NF*SF-1) ? 0 : a_addr+1;
//             b_x <= a_in ? s_axis_tdata : ibuf[a_sf];
//             if a_in: ibuf[a_sf] <= s_axis_tdata   (ibuf = SF-word input buffer)
//             weight ROMs: rdata <= mem[a_addr]
//   if adv:   b_valid <= a_valid; b_first <= (a_sf==0); b_last <= (a_sf==SF-1);
//             c_valid <= b_valid; c_first <= b_first; c_last <= b_last;
//             c_dot <= dot(b_x, weights);
//             if c_valid: acc <= (c_first ? 0 : acc) + c_dot;
//             d_last <= c_valid && c_last;
//             if c_valid && c_last: threshold ROMs: rdata <= mem[nf of that beat]
//   queue:    push && !pop: q_cnt+1, data into q_head if q_cnt==0 else q_tail;
//             pop && !push: q_cnt-1, and q_head <= q_tail if q_cnt was 2;
//             push && pop : q_cnt unchanged (it is 1), q_head <= result.
//             (push with q_cnt==2 cannot happen.) result = threshold/identity
//             function of acc and the threshold-ROM registers (combinational).
// Beats are issued in order nf = 0..NF-1 (outer), sf = 0..SF-1 (inner); nf=0
// beats take their word from s_axis (one handshake each), nf>0 beats replay
// ibuf, so a new vector's first word is accepted right after the previous
// vector's last beat (no bubble between folds or vectors).
//
// Latency: if adv stays 1, a beat issued at edge t (for nf = 0 that is its
// s_axis handshake at cycle t) is in stage B during cycle t+1, in C during
// t+2 and in D during t+3; if it is the last beat of a neuron fold
// (sf = SF-1) its result is pushed into the queue at edge t+3, so
// m_axis_tvalid is high from cycle t+4: the earliest output handshake is at
// cycle t+4 (tested: with no stalls, output word (v, nf) is taken at cycle
// v*NF*SF + nf*SF + SF + 3 and input word (v, sf) at cycle v*NF*SF + sf).
// Every cycle with adv = 0 freezes stages A-D (and the ROM registers).
// Reset state: all valid bits and d_last 0, a_nf = a_sf = a_addr = 0,
// q_cnt = 0; s_axis_tready is 1 in the first cycle after reset.
// Throughput: without back-pressure adv is always 1, one beat is issued per
// cycle whenever input is available: exactly NF*SF cycles per vector in
// steady state, one output word per NF*SF/NF = SF cycles on average
// (one word per neuron fold). Back-pressure stalls the whole pipeline only
// when a finished result is waiting (d_last) and both queue entries are
// full; a stall caused by q_cnt == 2 lasts at least one cycle even if the
// consumer takes a word in that cycle (adv uses only registers).
//
// Parameter checking: see bnn_rom.v (missing `ERROR_...` module).
`default_nettype none

module bnn_mvtu #(
    parameter integer MW         = 16,  // matrix width = input vector length (padded, SIMD | MW)
    parameter integer MH         = 8,   // matrix height = output channels (padded, PE | MH)
    parameter integer PE         = 2,   // processing elements = output channels per output word
    parameter integer SIMD       = 4,   // input elements per input word
    parameter integer WBITS      = 1,   // bits per weight (1 if WTYPE = 0)
    parameter integer IBITS      = 1,   // bits per input element (1 if ITYPE = 0)
    parameter integer WTYPE      = 0,   // weight type: 0 bipolar (bit 1 = +1), 1 unsigned, 2 signed
    parameter integer ITYPE      = 0,   // input type: 0 bipolar (bit 1 = +1), 1 unsigned, 2 signed
    parameter integer ACC_BITS   = 6,   // signed accumulator width (>= 2)
    parameter integer NSTEPS     = 1,   // thresholds per channel (2^OBITS-1 usually); 0 = no activation
    parameter integer OBITS      = 1,   // output bits per channel (= ACC_BITS when NSTEPS = 0)
    parameter integer TBITS      = 6,   // threshold width, signed (ignored when NSTEPS = 0)
    parameter integer OUT_BIAS   = 0,   // signed integer added to the threshold count
    parameter integer XNOR_FANIN = 16   // true fan-in K for XNOR no-activation output 2*P - K (<= MW)
) (
    input  wire                         ap_clk,         // clock
    input  wire                         ap_rst_n,       // synchronous reset, active low
    // input vector stream
    input  wire [SIMD*IBITS-1:0]        s_axis_tdata,
    input  wire                         s_axis_tvalid,
    output wire                         s_axis_tready,
    // output stream
    output wire [PE*OBITS-1:0]          m_axis_tdata,
    output wire                         m_axis_tvalid,
    input  wire                         m_axis_tready,
    // weight ROMs (one per PE, NF*SF words of SIMD*WBITS bits, 1-cycle read)
    output wire                         wmem_en,
    output wire [(((MH/PE)*(MW/SIMD) > 1) ? $clog2((MH/PE)*(MW/SIMD)) : 1)-1:0] wmem_addr,
    input  wire [PE*SIMD*WBITS-1:0]     wmem_rdata,
    // threshold ROMs (one per PE, NF words of NSTEPS*TBITS+1 bits, 1-cycle read)
    output wire                         tmem_en,
    output wire [(((MH/PE) > 1) ? $clog2(MH/PE) : 1)-1:0] tmem_addr,
    input  wire [PE*(NSTEPS*TBITS+1)-1:0] tmem_rdata
);

    // ------------------------------------------------------------------
    // derived constants and parameter checks
    // ------------------------------------------------------------------
    localparam integer NF  = MH / PE;
    localparam integer SF  = MW / SIMD;
    localparam integer NFW = (NF > 1) ? $clog2(NF) : 1;
    localparam integer SFW = (SF > 1) ? $clog2(SF) : 1;
    localparam integer WAW = (NF * SF > 1) ? $clog2(NF * SF) : 1;
    localparam integer XW  = SIMD * IBITS;          // input word width
    localparam integer OW  = PE * OBITS;            // output word width
    localparam integer WW  = SIMD * WBITS;          // weight word width per PE
    localparam integer TW  = NSTEPS * TBITS + 1;    // threshold word width per PE
    localparam integer XNOR = (WTYPE == 0 && ITYPE == 0) ? 1 : 0;

    localparam integer NF_M1 = NF - 1;
    localparam integer SF_M1 = SF - 1;
    localparam integer WA_M1 = NF * SF - 1;
    localparam [NFW-1:0] NF_LAST = NF_M1[NFW-1:0];
    localparam [SFW-1:0] SF_LAST = SF_M1[SFW-1:0];
    localparam [WAW-1:0] WA_LAST = WA_M1[WAW-1:0];
    localparam [NFW-1:0] NF_ONE  = 1;
    localparam [SFW-1:0] SF_ONE  = 1;
    localparam [WAW-1:0] WA_ONE  = 1;

    generate
        if (PE < 1 || SIMD < 1 || MW < 1 || MH < 1) begin : g_err_dims
            ERROR_bnn_mvtu_MW_MH_PE_SIMD_must_be_positive u_err ();
        end
        if (MW % SIMD != 0) begin : g_err_simd
            ERROR_bnn_mvtu_SIMD_must_divide_MW u_err ();
        end
        if (MH % PE != 0) begin : g_err_pe
            ERROR_bnn_mvtu_PE_must_divide_MH u_err ();
        end
        if (NSTEPS < 0) begin : g_err_nsteps
            ERROR_bnn_mvtu_NSTEPS_must_be_non_negative u_err ();
        end
        if (NSTEPS == 0 && OBITS != ACC_BITS) begin : g_err_noact
            ERROR_bnn_mvtu_OBITS_must_equal_ACC_BITS_when_NSTEPS_is_0 u_err ();
        end
        if (NSTEPS > 0 && (TBITS < 1 || OBITS < 1)) begin : g_err_tbits
            ERROR_bnn_mvtu_TBITS_and_OBITS_must_be_positive u_err ();
        end
        if (XNOR == 1 && (XNOR_FANIN < 1 || XNOR_FANIN > MW)) begin : g_err_fanin
            ERROR_bnn_mvtu_XNOR_FANIN_must_be_in_1_to_MW u_err ();
        end
    endgenerate

    // ------------------------------------------------------------------
    // pipeline control
    // ------------------------------------------------------------------
    reg  [NFW-1:0] a_nf;
    reg  [SFW-1:0] a_sf;
    reg  [WAW-1:0] a_addr;
    reg            b_valid, b_first, b_last;
    reg            c_valid, c_first, c_last;
    reg            d_last;
    reg  [1:0]     q_cnt;
    reg  [OW-1:0]  q_head, q_tail;

    wire adv       = !(d_last && (q_cnt == 2'd2));
    wire a_in      = (a_nf == {NFW{1'b0}});
    wire a_valid   = !a_in || s_axis_tvalid;
    wire issue     = adv && a_valid;
    wire a_sf_last = (a_sf == SF_LAST);
    wire a_nf_last = (a_nf == NF_LAST);
    wire a_wa_last = (a_addr == WA_LAST);

    assign s_axis_tready = adv && a_in;
    assign wmem_en       = issue;
    assign wmem_addr     = a_addr;

    wire [OW-1:0] result;                 // stage-D result (all PEs)
    wire push = adv && d_last;
    wire pop  = (q_cnt != 2'd0) && m_axis_tready;

    assign m_axis_tvalid = (q_cnt != 2'd0);
    assign m_axis_tdata  = q_head;

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            a_nf    <= {NFW{1'b0}};
            a_sf    <= {SFW{1'b0}};
            a_addr  <= {WAW{1'b0}};
            b_valid <= 1'b0;
            c_valid <= 1'b0;
            d_last  <= 1'b0;
            q_cnt   <= 2'd0;
        end else begin
            if (issue) begin
                a_sf   <= a_sf_last ? {SFW{1'b0}} : a_sf + SF_ONE;
                if (a_sf_last) begin
                    a_nf <= a_nf_last ? {NFW{1'b0}} : a_nf + NF_ONE;
                end
                a_addr <= a_wa_last ? {WAW{1'b0}} : a_addr + WA_ONE;
            end
            if (adv) begin
                b_valid <= a_valid;
                c_valid <= b_valid;
                d_last  <= c_valid && c_last;
            end
            if (push && !pop) begin
                q_cnt <= q_cnt + 2'd1;
            end else if (pop && !push) begin
                q_cnt <= q_cnt - 2'd1;
            end
        end
    end

    // control flags that need no reset (qualified by the valid bits)
    always @(posedge ap_clk) begin
        if (adv) begin
            b_first <= (a_sf == {SFW{1'b0}});
            b_last  <= a_sf_last;
            c_first <= b_first;
            c_last  <= b_last;
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

    // ------------------------------------------------------------------
    // stage B: input word (stream copy or input-buffer replay)
    // ------------------------------------------------------------------
    reg  [XW-1:0] b_xin;
    wire [XW-1:0] b_x;

    always @(posedge ap_clk) begin
        if (issue && a_in) begin
            b_xin <= s_axis_tdata;
        end
    end

    generate
        if (NF > 1) begin : g_ibuf
            reg          b_from_in;
            reg [XW-1:0] b_xbuf;
            if (SF > 1) begin : g_mem
                reg [XW-1:0] ibuf [0:SF-1];
                always @(posedge ap_clk) begin
                    if (issue && a_in) begin
                        ibuf[a_sf] <= s_axis_tdata;
                    end
                    if (issue && !a_in) begin
                        b_xbuf <= ibuf[a_sf];
                    end
                end
            end else begin : g_reg
                reg [XW-1:0] ibuf0;
                always @(posedge ap_clk) begin
                    if (issue && a_in) begin
                        ibuf0 <= s_axis_tdata;
                    end
                    if (issue && !a_in) begin
                        b_xbuf <= ibuf0;
                    end
                end
            end
            always @(posedge ap_clk) begin
                if (issue) begin
                    b_from_in <= a_in;
                end
            end
            assign b_x = b_from_in ? b_xin : b_xbuf;
        end else begin : g_noibuf
            assign b_x = b_xin;
        end
    endgenerate

    // ------------------------------------------------------------------
    // stage C: per-PE dot products; stage D: accumulators
    // ------------------------------------------------------------------
    reg [PE*ACC_BITS-1:0] c_dot;
    reg [PE*ACC_BITS-1:0] acc;
    wire [PE*ACC_BITS-1:0] dot_w;

    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            bnn_dot #(
                .SIMD    (SIMD),
                .WBITS   (WBITS),
                .IBITS   (IBITS),
                .WTYPE   (WTYPE),
                .ITYPE   (ITYPE),
                .ACC_BITS(ACC_BITS)
            ) u_dot (
                .w  (wmem_rdata[p*WW +: WW]),
                .x  (b_x),
                .dot(dot_w[p*ACC_BITS +: ACC_BITS])
            );
            always @(posedge ap_clk) begin
                if (adv && c_valid) begin
                    acc[p*ACC_BITS +: ACC_BITS] <=
                        (c_first ? {ACC_BITS{1'b0}} : acc[p*ACC_BITS +: ACC_BITS])
                        + c_dot[p*ACC_BITS +: ACC_BITS];
                end
            end
        end
    endgenerate

    always @(posedge ap_clk) begin
        if (adv) begin
            c_dot <= dot_w;
        end
    end

    // ------------------------------------------------------------------
    // stage D -> result: thresholds or identity
    // ------------------------------------------------------------------
    generate
        if (NSTEPS > 0) begin : g_thr
            reg [NFW-1:0] b_nf, c_nf;
            always @(posedge ap_clk) begin
                if (adv) begin
                    b_nf <= a_nf;
                    c_nf <= b_nf;
                end
            end
            assign tmem_en   = adv && c_valid && c_last;
            assign tmem_addr = c_nf;
            for (p = 0; p < PE; p = p + 1) begin : g_pe_thr
                bnn_thresh #(
                    .ACC_BITS(ACC_BITS),
                    .NSTEPS  (NSTEPS),
                    .TBITS   (TBITS),
                    .OBITS   (OBITS),
                    .OUT_BIAS(OUT_BIAS)
                ) u_thr (
                    .acc  (acc[p*ACC_BITS +: ACC_BITS]),
                    .tword(tmem_rdata[p*TW +: TW]),
                    .out  (result[p*OBITS +: OBITS])
                );
            end
        end else begin : g_noact
            assign tmem_en   = 1'b0;
            assign tmem_addr = {NFW{1'b0}};
            wire unused_tmem_rdata = &{1'b0, tmem_rdata};
            if (XNOR == 1) begin : g_xnor_out
                // true dot product 2*P - K, modulo 2^ACC_BITS
                localparam integer        K_INT = XNOR_FANIN;
                localparam [ACC_BITS-1:0] K_ACC = K_INT[ACC_BITS-1:0];
                for (p = 0; p < PE; p = p + 1) begin : g_pe_out
                    wire [ACC_BITS-1:0] pc = acc[p*ACC_BITS +: ACC_BITS];
                    assign result[p*OBITS +: OBITS] = pc + pc - K_ACC;
                end
            end else begin : g_acc_out
                assign result = acc;
            end
        end
    endgenerate

endmodule

`default_nettype wire

// bnn_vvau.v -- vector-vector-threshold unit (FINN VVAU semantics): the
// depthwise-convolution counterpart of bnn_mvtu.v, with the same issue stage,
// credits, pipeline, output queue and ROM interface (docs/mvtu-spec.md), and
// a datapath in which each PE dots its own input lanes instead of one word
// broadcast to every PE. It is bnn_mvtu with DEPTHWISE = 1: this file fixes
// the depthwise port widths and states the depthwise function and timing.
//
// ============================================================================
// FUNCTION
// ============================================================================
// MH channels, MW kernel positions (KH*KW of the layer, padded to a multiple
// of SIMD). For every input vector x (MW x MH elements: element (k, c) is
// kernel position k of channel c) it computes, for each channel r:
//   acc[r] = sum_{k<MW} W[r][k] * x[k][r]                  (non-XNOR modes)
//   acc[r] = #{k < MW : wbit[r][k] == xbit[k][r]}          (XNOR mode)
// and the output exactly as bnn_mvtu (thresholds with dir, OUT_BIAS modulo
// 2^OBITS; NSTEPS = 0: acc, or 2*acc - XNOR_FANIN in XNOR mode), modulo
// 2^ACC_BITS.
//
// Folding: NF = MH/PE channel folds, SF = MW/SIMD kernel folds; a vector is
// NF*SF input words, nf outer, sf inner (the depthwise window order of
// docs/swg-pool-spec.md: each PE channel group's window, kernel positions
// innermost). Input word (PE*SIMD*IBITS bits) of beat (nf, sf): lane
// l*PE + p, at bits [(l*PE + p)*IBITS +: IBITS], is kernel position
// sf*SIMD + l of channel nf*PE + p (a word of SIMD consecutive kernel
// positions, each PE channels wide, as a window generator with PE-channel
// words emits them). Output word (PE*OBITS bits): lane pe of fold nf is
// channel nf*PE + pe. Weight ROM of PE p: word nf*SF + sf holds the SIMD
// weights W[nf*PE+p][sf*SIMD + l], lane l at [l*WBITS +: WBITS]. Threshold
// ROM of PE p: word nf as in bnn_mvtu. Both ROMs are 2-cycle reads (bnn_rom),
// read at every edge, exactly as in bnn_mvtu.
//
// Datapath modes: as bnn_mvtu (XNOR, OFFSET, SEL, MAC from the types), with
// one difference in OFFSET mode with bipolar weights: SUM v = SUM x is per PE
// (each PE has its own inputs), one adder tree and accumulator acc_v per PE.
//
// ============================================================================
// TIMING (cycle exact)
// ============================================================================
// Exactly bnn_mvtu's TIMING section (constants PROD, TS, FIN, LAT, Q, G;
// stage A; stages B, X, tree, accumulate, FIN, compare, push; the output
// queue; reset state) with these changes, all in stage A:
//   a_in = 1 (every beat reads the stream: there is no input buffer, NF > 1
//   or not), so a_valid = s_axis_tvalid, issue = s_axis_tvalid && can and
//   s_axis_tready = can (registers only, as before).
// Stage B takes b_x <= s_axis_tdata; stage X copies, per PE group, the lanes
// of the group's PEs (each lane is read by one PE only, so a group's copy
// holds its own lanes, not the whole word); PE p's dot product reads its
// lanes (kernel positions l = 0..SIMD-1) there; in OFFSET mode with
// bipolar weights PE p's SUM x tree reads the same lanes at the same stage
// (so its accumulator acc_v is aligned with acc, as the shared tree is in
// bnn_mvtu).
// Latency and throughput: with no back-pressure input word (v, nf, sf) is
// taken at cycle (v*NF + nf)*SF + sf and output word (v, nf) at cycle
// v*NF*SF + nf*SF + SF - 1 + LAT + 1: one beat per cycle, NF*SF cycles per
// vector. Under back-pressure only the issue stage waits (for a credit, when
// it would issue a fold's last beat), and then s_axis_tready is 0.
// Implementation: bnn_mvtu.v (DEPTHWISE = 1). The cycle simulator follows:
// the MVTU's control model in src/cyclesim/mvtu.rs (Mvtu::new_depthwise),
// with the depthwise datapath in src/cyclesim/vvau.rs.
//
// Parameter checking: see bnn_rom.v (missing `ERROR_...` module).
`default_nettype none

module bnn_vvau #(
    parameter integer MW         = 9,   // kernel positions per channel (padded, SIMD | MW)
    parameter integer MH         = 4,   // channels (PE | MH)
    parameter integer PE         = 2,   // channels in parallel (per input and output word)
    parameter integer SIMD       = 1,   // kernel positions per input word
    parameter integer WBITS      = 1,   // bits per weight (1 if WTYPE = 0)
    parameter integer IBITS      = 1,   // bits per input element (1 if ITYPE = 0)
    parameter integer WTYPE      = 0,   // weight type: 0 bipolar (bit 1 = +1), 1 unsigned, 2 signed
    parameter integer ITYPE      = 0,   // input type: 0 bipolar (bit 1 = +1), 1 unsigned, 2 signed
    parameter integer ACC_BITS   = 5,   // signed accumulator width (>= 2)
    parameter integer NSTEPS     = 1,   // thresholds per channel; 0 = no activation
    parameter integer OBITS      = 1,   // output bits per channel (= ACC_BITS when NSTEPS = 0)
    parameter integer TBITS      = 5,   // threshold width, signed (ignored when NSTEPS = 0)
    parameter integer OUT_BIAS   = 0,   // signed integer added to the threshold count
    parameter integer XNOR_FANIN = 9,   // true fan-in K for XNOR no-activation output 2*P - K (<= MW)
    parameter integer PE_GROUP   = 8    // PEs per replicated input-word copy / enable / ROM address (>= 1; no timing effect)
) (
    input  wire                         ap_clk,         // clock
    input  wire                         ap_rst_n,       // synchronous reset, active low
    // input stream: PE channels x SIMD kernel positions per word
    input  wire [PE*SIMD*IBITS-1:0]     s_axis_tdata,
    input  wire                         s_axis_tvalid,
    output wire                         s_axis_tready,
    // output stream
    output wire [PE*OBITS-1:0]          m_axis_tdata,
    output wire                         m_axis_tvalid,
    input  wire                         m_axis_tready,
    // weight ROMs (one per PE, NF*SF words of SIMD*WBITS bits, 2-cycle read)
    output wire                         wmem_en,
    output wire [((PE + ((PE_GROUP < 1) ? 1 : PE_GROUP) - 1) / ((PE_GROUP < 1) ? 1 : PE_GROUP))
                 * (((MH/PE)*(MW/SIMD) > 1) ? $clog2((MH/PE)*(MW/SIMD)) : 1)-1:0] wmem_addr,
    input  wire [PE*SIMD*WBITS-1:0]     wmem_rdata,
    // threshold ROMs (one per PE, NF words of NSTEPS*TBITS+1 bits, 2-cycle read)
    output wire                         tmem_en,
    output wire [(((MH/PE) > 1) ? $clog2(MH/PE) : 1)-1:0] tmem_addr,
    input  wire [PE*(NSTEPS*TBITS+1)-1:0] tmem_rdata
);

    bnn_mvtu #(
        .MW        (MW),
        .MH        (MH),
        .PE        (PE),
        .SIMD      (SIMD),
        .WBITS     (WBITS),
        .IBITS     (IBITS),
        .WTYPE     (WTYPE),
        .ITYPE     (ITYPE),
        .ACC_BITS  (ACC_BITS),
        .NSTEPS    (NSTEPS),
        .OBITS     (OBITS),
        .TBITS     (TBITS),
        .OUT_BIAS  (OUT_BIAS),
        .XNOR_FANIN(XNOR_FANIN),
        .PE_GROUP  (PE_GROUP),
        .DEPTHWISE (1)
    ) u_mvtu (
        .ap_clk       (ap_clk),
        .ap_rst_n     (ap_rst_n),
        .s_axis_tdata (s_axis_tdata),
        .s_axis_tvalid(s_axis_tvalid),
        .s_axis_tready(s_axis_tready),
        .m_axis_tdata (m_axis_tdata),
        .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready),
        .wmem_en      (wmem_en),
        .wmem_addr    (wmem_addr),
        .wmem_rdata   (wmem_rdata),
        .tmem_en      (tmem_en),
        .tmem_addr    (tmem_addr),
        .tmem_rdata   (tmem_rdata)
    );

endmodule

`default_nettype wire

// bnn_mvtu.v -- matrix-vector-threshold unit (FINN MVAU semantics), v2:
// a free-running pipelined datapath behind a credit-checked issue stage,
// AXI-Stream in and out, weight/threshold ROMs outside the module.
// (docs/mvtu-spec.md is the specification this file implements.)
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
// domain.
//
// Folding: NF = MH/PE neuron folds, SF = MW/SIMD synapse folds.
// Input word (SIMD*IBITS bits): lane l of synapse fold sf is input channel
// sf*SIMD + l, at bits [l*IBITS +: IBITS]. Output word (PE*OBITS bits): lane
// pe of neuron fold nf is output channel nf*PE + pe, at [pe*OBITS +: OBITS].
// Weight ROM of PE p (outside): word address nf*SF + sf holds the SIMD
// weights W[nf*PE+p][sf*SIMD + l], lane l at [l*WBITS +: WBITS]; presented
// on wmem_rdata[p*SIMD*WBITS +: SIMD*WBITS]. Threshold ROM of PE p: word
// address nf holds {dir, T'[NSTEPS-1], ..., T'[0]} (TBITS each, T'[0] in the
// LSBs) of channel nf*PE+p, with T'[i] = T[i] when dir = 0 and
// T'[i] = T[i] + 1 when dir = 1 (acc <= T <=> !(acc >= T+1)); presented on
// tmem_rdata[p*(NSTEPS*TBITS+1) +: NSTEPS*TBITS+1]. Both ROMs must behave
// like bnn_rom: a 2-cycle read, with en=1 at every edge rdata during cycle
// c+2 is mem[addr during cycle c] (the RAM's output is registered before
// it reaches the adder trees and comparators). The MVTU
// reads them at every edge: wmem_en = 1, tmem_en = 1 (tmem_en = 0 and
// tmem_addr = 0 when NSTEPS = 0; tmem_rdata is then ignored).
//
// DEPTHWISE = 1 (bnn_vvau.v, FINN's VVAU): MH channels, MW kernel positions;
// acc[r] = sum_k W[r][k] * x[k][r] (XNOR: #{k : wbit[r][k] == xbit[k][r]}):
// each PE dots its own input lanes instead of one word broadcast to all PEs.
// Input word (PE*SIMD*IBITS bits) of beat (nf, sf): lane l*PE + p, at
// [(l*PE + p)*IBITS +: IBITS], is kernel position sf*SIMD + l of channel
// nf*PE + p; a vector is NF*SF words, nf outer (bnn_vvau.v's header).
//
// Datapath modes (derived from the types; lane terms see bnn_dot.v):
//   XNOR   WTYPE = ITYPE = 0                  per beat: popcount of XNOR
//   OFFSET exactly one of WTYPE, ITYPE is 0    per beat: 2*SUM(u ? v : 0) - SUM v
//          (u = the bipolar operand's bit, v = the other operand). The
//          per-PE accumulator holds A = SUM SUM (u ? v : 0), the accumulator
//          acc_v holds SUM SUM v, and FIN forms 2*A - acc_v. Bipolar weights:
//          SUM v = SUM x is one tree shared by all PEs (its accumulator is
//          replicated per PE group, for fan-out; DEPTHWISE: one tree and
//          accumulator per PE over its own lanes); bipolar inputs: SUM v =
//          SUM w is a second tree and accumulator per PE.
//   SEL    else, one operand uint1             per beat: SUM (b ? v : 0)
//   MAC    otherwise                           per beat: SUM w*x (exact products)
//
// ============================================================================
// TIMING (cycle exact; a beat = one (nf, sf) step of one vector)
// ============================================================================
// Cycle c ends at rising edge c; "X during c" is the value between edges c-1
// and c. All registers update only at rising edges; ap_rst_n is synchronous,
// active low, and clears the registers marked (R).
//
// Constants:
//   PROD = (MAC) ? 1 : 0;  TS = max(1, clog2(SIMD));  FIN = (OFFSET) ? 1 : 0
//   LAT  = 4 + PROD + TS + FIN    (issue edge of a fold's last beat -> push)
//   Q    = floor((LAT + 1) / SF) + 2    (output queue capacity = credits at reset)
//   G    = ceil(PE / PE_GROUP)   PE groups (replicated input copy and enables)
//
// Stage A (issue; the only stage that can stall):
//   registers a_nf (R) in [0,NF), a_sf (R) in [0,SF), a_addr (R) =
//   a_nf*SF + a_sf (a counter), credits (R, reset Q), the SF-word input
//   buffer ibuf (NF > 1 only).
//   a_in      = (a_nf == 0) || DEPTHWISE this beat reads the stream (no input
//                                        buffer when DEPTHWISE: every beat reads)
//   a_last    = (a_sf == SF-1)           this beat finishes a fold (reserves a slot)
//   a_valid   = !a_in || s_axis_tvalid
//   can       = !a_last || (credits != 0)
//   issue     = a_valid && can
//   s_axis_tready = a_in && can          (registers only: never depends on
//                                         s_axis_tvalid or m_axis_tready)
//   pop       = m_axis_tvalid && m_axis_tready
//   At each edge: if issue: a_sf <= (a_sf==SF-1) ? 0 : a_sf+1;
//                   if a_sf==SF-1: a_nf <= (a_nf==NF-1) ? 0 : a_nf+1;
//                   a_addr <= (a_addr==NF*SF-1) ? 0 : a_addr+1;
//                   if a_in: ibuf[a_sf] <= s_axis_tdata
//                 credits <= credits - (issue && a_last) + pop
//
// Everything after stage A shifts at EVERY edge (no pipeline enable); a beat
// issued at edge t (for nf = 0: its s_axis handshake in cycle t) is captured
// at these edges:
//   t        stage B: b_x <= a_in ? s_axis_tdata : ibuf[a_sf];
//            flags valid (R) = issue, first = (a_sf == 0),
//            last (R) = issue && a_last, nf = a_nf; the weight ROMs' first
//            read stage takes wmem_addr = a_addr (per PE group g, the replica
//            wmem_addr[g*WAW +: WAW] of stage A's register: equal to a_addr
//            in every cycle, reset 0, loaded with a_addr's next value)
//   t+1      stage X: b_x copied into one register per PE group (and one for
//            the shared SUM x tree): the broadcast to all PEs is its own
//            stage (DEPTHWISE: a group's copy holds only its PEs' lanes, and
//            each PE's SUM x tree reads them here); weight ROM output
//            registers rdata <= mem[a_addr at t]
//   t+2 ..   (MAC: the products at t+2,) then TS adder-tree stages, one
//   t+1+PROD+TS   tree level each (bnn_dot / bnn_addtree); the last holds
//            the beat's sum per PE (and SUM v); the valid/first flags of this
//            stage are replicated per PE group ((* keep *)) as the
//            accumulators' enables
//   t+2+PROD+TS   accumulators, only for a valid beat:
//            acc <= first ? sum : acc + sum (likewise acc_v)
//   +FIN     OFFSET only: fin <= 2*acc - acc_v (every edge; used for the
//            last beat of a fold)
//   t+3+PROD+TS+FIN   compare stage (bnn_thresh, every edge): per PE and
//            threshold hit[i] <= (val >= T'[i]), dir_r <= dir, with val =
//            fin (OFFSET) or acc, and the threshold-ROM output register
//            loaded at the previous edge with the word of the beat's nf
//            (tmem_addr is the nf flag captured at edge t+PROD+TS+FIN; the
//            ROM's first stage takes it at edge t+1+PROD+TS+FIN).
//            NSTEPS = 0: this stage registers the output value instead:
//            fin (OFFSET), 2*acc - XNOR_FANIN (XNOR), acc (otherwise)
//   t+LAT    push into the output queue, for the last beat of a fold only
//            (the last flag of the compare stage): out = (count + OUT_BIAS)
//            mod 2^OBITS, count = dir_r ? NSTEPS - #hit : #hit (NSTEPS = 0:
//            the registered value)
//
// Output queue (capacity Q words; q_cnt (R), write/read pointers (R)):
//   m_axis_tvalid = (q_cnt != 0), m_axis_tdata = oldest word.
//   At each edge it appends the word pushed at that edge and drops the
//   oldest if pop; a word pushed into an empty queue is on m_axis from the
//   next cycle. credits + words in the queue + reserved words in flight = Q,
//   so a push always finds room.
//
// Latency and throughput (tested): with no back-pressure, input word (v, sf)
// is taken at cycle v*NF*SF + sf and output word (v, nf) at cycle
// v*NF*SF + nf*SF + SF - 1 + LAT + 1. Examples: XNOR, SIMD 32: LAT = 9;
// binary x bipolar (OFFSET), SIMD 64: LAT = 11; W4A4 (MAC), SIMD 5: LAT = 8;
// SIMD 1 XNOR: LAT = 5. Q covers the credit round trip (reserve at the issue
// edge, push LAT edges later, pop one cycle later at the earliest, credit
// usable the cycle after), so with a ready consumer the issue stage never
// waits: exactly NF*SF cycles per vector. Under back-pressure only the issue
// stage waits (for a credit, when it would issue a fold's last beat).
// Reset state: all valid flags 0, a_nf = a_sf = a_addr = 0, credits = Q,
// empty queue; s_axis_tready is 1 in the first cycle after reset.
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
    parameter integer XNOR_FANIN = 16,  // true fan-in K for XNOR no-activation output 2*P - K (<= MW)
    parameter integer PE_GROUP   = 8,   // PEs per replicated input-word copy / enable / ROM address (>= 1; no timing effect)
    parameter integer DEPTHWISE  = 0    // 1: each PE dots its own PE-interleaved lanes (bnn_vvau.v), no input buffer
) (
    input  wire                         ap_clk,         // clock
    input  wire                         ap_rst_n,       // synchronous reset, active low
    // input vector stream (DEPTHWISE: PE channels x SIMD kernel positions per word)
    input  wire [((DEPTHWISE == 1) ? PE : 1)*SIMD*IBITS-1:0] s_axis_tdata,
    input  wire                         s_axis_tvalid,
    output wire                         s_axis_tready,
    // output stream
    output wire [PE*OBITS-1:0]          m_axis_tdata,
    output wire                         m_axis_tvalid,
    input  wire                         m_axis_tready,
    // weight ROMs (one per PE, NF*SF words of SIMD*WBITS bits, 2-cycle read)
    output wire                         wmem_en,
    // (one copy of the address per group of PE_GROUP PEs: copy g for the ROMs of PEs
    // g*PE_GROUP .. g*PE_GROUP+PE_GROUP-1, at [g*WAW +: WAW])
    output wire [((PE + ((PE_GROUP < 1) ? 1 : PE_GROUP) - 1) / ((PE_GROUP < 1) ? 1 : PE_GROUP))
                 * (((MH/PE)*(MW/SIMD) > 1) ? $clog2((MH/PE)*(MW/SIMD)) : 1)-1:0] wmem_addr,
    input  wire [PE*SIMD*WBITS-1:0]     wmem_rdata,
    // threshold ROMs (one per PE, NF words of NSTEPS*TBITS+1 bits, 2-cycle read)
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
    localparam integer PXW = SIMD * IBITS;          // one PE's lanes
    localparam integer XW  = ((DEPTHWISE == 1) ? PE : 1) * PXW;  // input word width
    localparam integer OW  = PE * OBITS;            // output word width
    localparam integer WW  = SIMD * WBITS;          // weight word width per PE
    localparam integer TW  = NSTEPS * TBITS + 1;    // threshold word width per PE
    localparam integer AB  = ACC_BITS;

    // mode: 0 XNOR, 1 OFFSET, 2 SEL, 3 MAC (as in bnn_dot)
    localparam integer MODE =
        (WTYPE == 0 && ITYPE == 0) ? 0 :
        (WTYPE == 0 || ITYPE == 0) ? 1 :
        ((WTYPE == 1 && WBITS == 1) || (ITYPE == 1 && IBITS == 1)) ? 2 : 3;
    localparam integer XNOR     = (MODE == 0) ? 1 : 0;
    localparam integer SHARED_V = (MODE == 1 && WTYPE == 0 && DEPTHWISE == 0) ? 1 : 0;  // SUM v = SUM x, one tree
    localparam integer OWN_XV   = (MODE == 1 && WTYPE == 0 && DEPTHWISE == 1) ? 1 : 0;  // SUM x per PE
    localparam integer PE_V     = (MODE == 1 && ITYPE == 0) ? 1 : 0;  // SUM v = SUM w

    // pipeline geometry (docs/mvtu-spec.md, section 3)
    localparam integer PROD = (MODE == 3) ? 1 : 0;
    localparam integer TS   = (SIMD > 1) ? $clog2(SIMD) : 1;
    localparam integer FIN  = (MODE == 1) ? 1 : 0;
    localparam integer LAT  = 4 + PROD + TS + FIN;
    localparam integer Q    = (LAT + 1) / SF + 2;
    localparam integer ST   = 1 + PROD + TS;        // stage of the tree sums
    localparam integer SC   = 3 + PROD + TS + FIN;  // compare stage (push at SC+1 = LAT)
    localparam integer GPE  = (PE_GROUP < 1) ? 1 : PE_GROUP;
    localparam integer G    = (PE + GPE - 1) / GPE;
    localparam integer QW   = $clog2(Q);            // Q >= 2
    localparam integer QCW  = $clog2(Q + 1);

    localparam integer NF_M1 = NF - 1;
    localparam integer SF_M1 = SF - 1;
    localparam integer WA_M1 = NF * SF - 1;
    localparam integer Q_M1  = Q - 1;
    localparam [NFW-1:0] NF_LAST = NF_M1[NFW-1:0];
    localparam [SFW-1:0] SF_LAST = SF_M1[SFW-1:0];
    localparam [WAW-1:0] WA_LAST = WA_M1[WAW-1:0];
    localparam [NFW-1:0] NF_ONE  = 1;
    localparam [SFW-1:0] SF_ONE  = 1;
    localparam [WAW-1:0] WA_ONE  = 1;
    localparam [QW-1:0]  Q_LAST  = Q_M1[QW-1:0];
    localparam [QW-1:0]  Q_ONE   = 1;
    localparam [QCW-1:0] Q_FULL  = Q[QCW-1:0];
    localparam [QCW-1:0] QC_ONE  = 1;

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
        if (ACC_BITS < 2) begin : g_err_acc
            ERROR_bnn_mvtu_ACC_BITS_must_be_at_least_2 u_err ();
        end
    endgenerate

    // ------------------------------------------------------------------
    // stage A: issue, credits
    // ------------------------------------------------------------------
    reg  [NFW-1:0] a_nf;
    reg  [SFW-1:0] a_sf;
    reg  [WAW-1:0] a_addr;
    reg  [QCW-1:0] credits;

    wire a_in      = (DEPTHWISE == 1) || (a_nf == {NFW{1'b0}});
    wire a_last    = (a_sf == SF_LAST);
    wire a_valid   = !a_in || s_axis_tvalid;
    wire can       = !a_last || (credits != {QCW{1'b0}});
    wire issue     = a_valid && can;
    wire a_nf_last = (a_nf == NF_LAST);
    wire a_wa_last = (a_addr == WA_LAST);
    // a_addr's next value: the weight-ROM address replicas load it
    wire [WAW-1:0] a_addr_next = !issue ? a_addr : (a_wa_last ? {WAW{1'b0}} : a_addr + WA_ONE);

    reg  [QCW-1:0] q_cnt;
    wire pop = (q_cnt != {QCW{1'b0}}) && m_axis_tready;

    assign s_axis_tready = a_in && can;

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            a_nf    <= {NFW{1'b0}};
            a_sf    <= {SFW{1'b0}};
            a_addr  <= {WAW{1'b0}};
            credits <= Q_FULL;
        end else begin
            if (issue) begin
                a_sf <= a_last ? {SFW{1'b0}} : a_sf + SF_ONE;
                if (a_last) begin
                    a_nf <= a_nf_last ? {NFW{1'b0}} : a_nf + NF_ONE;
                end
            end
            a_addr <= a_addr_next;
            if ((issue && a_last) && !pop) begin
                credits <= credits - QC_ONE;
            end else if (pop && !(issue && a_last)) begin
                credits <= credits + QC_ONE;
            end
        end
    end

    // ------------------------------------------------------------------
    // stage B: input word (stream copy or input-buffer replay), ROM
    // address, beat flags
    // ------------------------------------------------------------------
    reg  [XW-1:0]  b_x;
    wire [XW-1:0]  a_x;          // the beat's input word

    generate
        if (NF > 1 && DEPTHWISE == 0) begin : g_ibuf
            wire [XW-1:0] ib_rd;
            if (SF > 1) begin : g_mem
                reg [XW-1:0] ibuf [0:SF-1];
                always @(posedge ap_clk) begin
                    if (issue && a_in) begin
                        ibuf[a_sf] <= s_axis_tdata;
                    end
                end
                assign ib_rd = ibuf[a_sf];
            end else begin : g_reg
                reg [XW-1:0] ibuf0;
                always @(posedge ap_clk) begin
                    if (issue && a_in) begin
                        ibuf0 <= s_axis_tdata;
                    end
                end
                assign ib_rd = ibuf0;
            end
            assign a_x = a_in ? s_axis_tdata : ib_rd;
        end else begin : g_noibuf
            assign a_x = s_axis_tdata;
        end
    endgenerate

    always @(posedge ap_clk) begin
        b_x <= a_x;
    end

    // The weight ROMs (2-cycle read) take stage A's address: they read it at
    // edge t and present the word from edge t+1, together with stage X. The
    // address reaches them from one replica of a_addr per PE group (below),
    // so no single register drives the address pins of every block RAM.
    assign wmem_en = 1'b1;

    // flag pipelines, indexed by stage (0 = B, 1 = X, ...)
    reg [ST-1:0] v_p;      // valid, stages 0 .. ST-1
    reg [ST-1:0] f_p;      // first, stages 0 .. ST-1
    reg [SC:0]   l_p;      // valid && last, stages 0 .. SC

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            v_p <= {ST{1'b0}};
            l_p <= {(SC+1){1'b0}};
        end else begin
            v_p <= {v_p[ST-2:0], issue};
            l_p <= {l_p[SC-1:0], issue && a_last};
        end
    end

    always @(posedge ap_clk) begin
        f_p <= {f_p[ST-2:0], (a_sf == {SFW{1'b0}})};
    end

    // ------------------------------------------------------------------
    // stage X: one input-word copy per PE group; group enables at stage ST
    // ------------------------------------------------------------------
    // Broadcast: copy g is the whole word, at x_g[g*XW +: XW]. DEPTHWISE:
    // group g (PEs g*GPE .. g*GPE+GN-1, GN = min(GPE, PE - g*GPE)) copies only
    // its PEs' lanes, lane (l, q) = kernel position l of its PE q at
    // x_g[g*GPE*PXW + (l*GN + q)*IBITS +: IBITS]; the groups tile XW bits.
    localparam integer XGW = (DEPTHWISE == 1) ? XW : G * XW;
    wire [XGW-1:0]  x_g;     // the groups' copies of the input word (stage X)
    wire [G-1:0]    gv;      // per group: the beat in stage ST is valid
    wire [G-1:0]    gf;      // per group: ... and is the first of its fold

    genvar g, p;

    // weight-ROM address replicas: copy g always equals a_addr ((* keep *):
    // synthesis must not merge them back into one register)
    generate
        for (g = 0; g < G; g = g + 1) begin : g_waddr
            reg [WAW-1:0] ar;
            (* keep *) always @(posedge ap_clk) begin
                if (!ap_rst_n) begin
                    ar <= {WAW{1'b0}};
                end else begin
                    ar <= a_addr_next;
                end
            end
            assign wmem_addr[g*WAW +: WAW] = ar;
        end
    endgenerate

    generate
        for (g = 0; g < G; g = g + 1) begin : g_grp
            localparam integer GN = (PE - g * GPE < GPE) ? PE - g * GPE : GPE;
            localparam integer CW = (DEPTHWISE == 1) ? GN * PXW : XW;       // copy width
            localparam integer CO = (DEPTHWISE == 1) ? g * GPE * PXW : g * XW;  // its offset in x_g
            wire [CW-1:0] xsel;
            reg  [CW-1:0] xr;
            reg           vr, fr;
            if (DEPTHWISE == 1) begin : g_lanes
                genvar l, q;
                for (l = 0; l < SIMD; l = l + 1) begin : g_l
                    for (q = 0; q < GN; q = q + 1) begin : g_q
                        assign xsel[(l*GN + q)*IBITS +: IBITS] = b_x[(l*PE + g*GPE + q)*IBITS +: IBITS];
                    end
                end
            end else begin : g_word
                assign xsel = b_x;
            end
            (* keep *) always @(posedge ap_clk) begin
                xr <= xsel;
            end
            (* keep *) always @(posedge ap_clk) begin
                vr <= v_p[ST-1];
            end
            (* keep *) always @(posedge ap_clk) begin
                fr <= f_p[ST-1];
            end
            assign x_g[CO +: CW] = xr;
            assign gv[g] = vr;
            assign gf[g] = fr;
        end
    endgenerate

    // ------------------------------------------------------------------
    // shared SUM x tree and its accumulator (OFFSET, bipolar weights)
    // ------------------------------------------------------------------
    wire [G*AB-1:0] accv_g;  // per group copy of acc_v (shared mode)

    generate
        if (SHARED_V == 1) begin : g_sv
            reg  [XW-1:0] xs;
            wire [AB-1:0] sv;
            (* keep *) always @(posedge ap_clk) begin
                xs <= b_x;
            end
            bnn_addtree #(
                .N(SIMD), .W(IBITS), .SIGNED((ITYPE == 2) ? 1 : 0), .STAGES(TS), .OUT_W(AB)
            ) u_vtree (
                .ap_clk(ap_clk), .terms(xs), .sel({SIMD{1'b0}}), .sum(sv)
            );
            for (g = 0; g < G; g = g + 1) begin : g_grp
                reg [AB-1:0] av;
                (* keep *) always @(posedge ap_clk) begin
                    if (gv[g]) begin
                        av <= gf[g] ? sv : av + sv;
                    end
                end
                assign accv_g[g*AB +: AB] = av;
            end
        end else begin : g_nosv
            assign accv_g = {(G*AB){1'b0}};
        end
    endgenerate

    // ------------------------------------------------------------------
    // per PE: dot product tree, accumulators, FIN; compare value
    // ------------------------------------------------------------------
    wire [PE*AB-1:0] val;    // the compare stage's input per PE

    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            localparam integer GP  = p / GPE;
            localparam integer GNP = (PE - GP * GPE < GPE) ? PE - GP * GPE : GPE;  // its group's PEs
            wire [AB-1:0] dsum, dvsum;
            reg  [AB-1:0] acc;
            // this PE's SIMD lanes: its group's copy of the word, or (DEPTHWISE)
            // lanes l*GNP + p - GP*GPE of its group's copy
            wire [PXW-1:0] xp;
            if (DEPTHWISE == 1) begin : g_own
                genvar l;
                for (l = 0; l < SIMD; l = l + 1) begin : g_lane
                    assign xp[l*IBITS +: IBITS] = x_g[GP*GPE*PXW + (l*GNP + p - GP*GPE)*IBITS +: IBITS];
                end
            end else begin : g_bcast
                assign xp = x_g[GP*XW +: XW];
            end
            bnn_dot #(
                .SIMD    (SIMD),
                .WBITS   (WBITS),
                .IBITS   (IBITS),
                .WTYPE   (WTYPE),
                .ITYPE   (ITYPE),
                .ACC_BITS(AB)
            ) u_dot (
                .ap_clk(ap_clk),
                .w     (wmem_rdata[p*WW +: WW]),
                .x     (xp),
                .sum   (dsum),
                .vsum  (dvsum)
            );
            always @(posedge ap_clk) begin
                if (gv[GP]) begin
                    acc <= gf[GP] ? dsum : acc + dsum;
                end
            end
            if (FIN == 1) begin : g_fin
                wire [AB-1:0] av;
                reg  [AB-1:0] fin;
                if (PE_V == 1 || OWN_XV == 1) begin : g_pev
                    // SUM v per PE: SUM w (bnn_dot's vsum, bipolar inputs), or
                    // (DEPTHWISE, bipolar weights) SUM x over this PE's own lanes,
                    // read at stage X as its dot product's, so acc_v aligns with acc
                    wire [AB-1:0] vs;
                    reg  [AB-1:0] accv;
                    if (PE_V == 1) begin : g_wv
                        assign vs = dvsum;
                    end else begin : g_xv
                        bnn_addtree #(
                            .N(SIMD), .W(IBITS), .SIGNED((ITYPE == 2) ? 1 : 0), .STAGES(TS), .OUT_W(AB)
                        ) u_vtree (
                            .ap_clk(ap_clk), .terms(xp), .sel({SIMD{1'b0}}), .sum(vs)
                        );
                        wire unused_dvsum = &{1'b0, dvsum};
                    end
                    always @(posedge ap_clk) begin
                        if (gv[GP]) begin
                            accv <= gf[GP] ? vs : accv + vs;
                        end
                    end
                    assign av = accv;
                    wire unused_accv_g = &{1'b0, accv_g[GP*AB +: AB]};
                end else begin : g_shv
                    assign av = accv_g[GP*AB +: AB];
                    wire unused_dvsum = &{1'b0, dvsum};
                end
                always @(posedge ap_clk) begin
                    fin <= {acc[AB-2:0], 1'b0} - av;
                end
                assign val[p*AB +: AB] = fin;
            end else begin : g_nofin
                assign val[p*AB +: AB] = acc;
                wire unused_v = &{1'b0, dvsum, accv_g[GP*AB +: AB]};
            end
        end
    endgenerate

    // ------------------------------------------------------------------
    // compare stage (thresholds or the output value) -> result
    // ------------------------------------------------------------------
    wire [OW-1:0] result;    // the word pushed at the next edge (when l_p[SC])

    generate
        if (NSTEPS > 0) begin : g_thr
            // nf flags up to stage SC-3 (SC >= 4): tmem_addr; the ROM
            // (2-cycle read) holds that nf's word during the cycle before
            // the compare edge
            reg [(SC-2)*NFW-1:0] n_p;
            always @(posedge ap_clk) begin
                n_p <= {n_p[(SC-3)*NFW-1:0], a_nf};
            end
            assign tmem_en   = 1'b1;
            assign tmem_addr = n_p[(SC-3)*NFW +: NFW];
            for (p = 0; p < PE; p = p + 1) begin : g_pe_thr
                bnn_thresh #(
                    .ACC_BITS(AB),
                    .NSTEPS  (NSTEPS),
                    .TBITS   (TBITS),
                    .OBITS   (OBITS),
                    .OUT_BIAS(OUT_BIAS)
                ) u_thr (
                    .ap_clk(ap_clk),
                    .acc   (val[p*AB +: AB]),
                    .tword (tmem_rdata[p*TW +: TW]),
                    .out   (result[p*OBITS +: OBITS])
                );
            end
        end else begin : g_noact
            assign tmem_en   = 1'b0;
            assign tmem_addr = {NFW{1'b0}};
            wire unused_tmem_rdata = &{1'b0, tmem_rdata};
            reg [OW-1:0] ovr;
            if (XNOR == 1) begin : g_xnor_out
                // true dot product 2*P - K, modulo 2^ACC_BITS
                localparam integer  K_INT = XNOR_FANIN;
                localparam [AB-1:0] K_ACC = K_INT[AB-1:0];
                for (p = 0; p < PE; p = p + 1) begin : g_pe_out
                    wire [AB-1:0] pc = val[p*AB +: AB];
                    always @(posedge ap_clk) begin
                        ovr[p*AB +: AB] <= pc + pc - K_ACC;
                    end
                end
            end else begin : g_acc_out
                always @(posedge ap_clk) begin
                    ovr <= val;
                end
            end
            assign result = ovr;
        end
    endgenerate

    // ------------------------------------------------------------------
    // output queue (Q words), push at the edge after the compare stage
    // ------------------------------------------------------------------
    wire push = l_p[SC];
    reg  [OW-1:0] qmem [0:Q-1];
    reg  [QW-1:0] q_wp, q_rp;

    always @(posedge ap_clk) begin
        if (push) begin
            qmem[q_wp] <= result;
        end
    end

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            q_wp  <= {QW{1'b0}};
            q_rp  <= {QW{1'b0}};
            q_cnt <= {QCW{1'b0}};
        end else begin
            if (push) begin
                q_wp <= (q_wp == Q_LAST) ? {QW{1'b0}} : q_wp + Q_ONE;
            end
            if (pop) begin
                q_rp <= (q_rp == Q_LAST) ? {QW{1'b0}} : q_rp + Q_ONE;
            end
            if (push && !pop) begin
                q_cnt <= q_cnt + QC_ONE;
            end else if (pop && !push) begin
                q_cnt <= q_cnt - QC_ONE;
            end
        end
    end

    assign m_axis_tvalid = (q_cnt != {QCW{1'b0}});
    assign m_axis_tdata  = qmem[q_rp];

endmodule

`default_nettype wire

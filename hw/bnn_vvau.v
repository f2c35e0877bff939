// bnn_vvau.v -- vector-vector-threshold unit (FINN VVAU semantics): the
// depthwise-convolution counterpart of bnn_mvtu.v, with the same issue stage,
// credits, pipeline, output queue and ROM interface (docs/mvtu-spec.md), and
// a datapath in which each PE dots its own input lanes instead of one word
// broadcast to every PE.
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
// The cycle simulator's model is src/cyclesim/vvau.rs.
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

    // ------------------------------------------------------------------
    // derived constants and parameter checks
    // ------------------------------------------------------------------
    localparam integer NF  = MH / PE;
    localparam integer SF  = MW / SIMD;
    localparam integer NFW = (NF > 1) ? $clog2(NF) : 1;
    localparam integer SFW = (SF > 1) ? $clog2(SF) : 1;
    localparam integer WAW = (NF * SF > 1) ? $clog2(NF * SF) : 1;
    localparam integer XW  = PE * SIMD * IBITS;     // input word width
    localparam integer PXW = SIMD * IBITS;          // one PE's lanes
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
            ERROR_bnn_vvau_MW_MH_PE_SIMD_must_be_positive u_err ();
        end
        if (MW % SIMD != 0) begin : g_err_simd
            ERROR_bnn_vvau_SIMD_must_divide_MW u_err ();
        end
        if (MH % PE != 0) begin : g_err_pe
            ERROR_bnn_vvau_PE_must_divide_MH u_err ();
        end
        if (NSTEPS < 0) begin : g_err_nsteps
            ERROR_bnn_vvau_NSTEPS_must_be_non_negative u_err ();
        end
        if (NSTEPS == 0 && OBITS != ACC_BITS) begin : g_err_noact
            ERROR_bnn_vvau_OBITS_must_equal_ACC_BITS_when_NSTEPS_is_0 u_err ();
        end
        if (NSTEPS > 0 && (TBITS < 1 || OBITS < 1)) begin : g_err_tbits
            ERROR_bnn_vvau_TBITS_and_OBITS_must_be_positive u_err ();
        end
        if (XNOR == 1 && (XNOR_FANIN < 1 || XNOR_FANIN > MW)) begin : g_err_fanin
            ERROR_bnn_vvau_XNOR_FANIN_must_be_in_1_to_MW u_err ();
        end
        if (ACC_BITS < 2) begin : g_err_acc
            ERROR_bnn_vvau_ACC_BITS_must_be_at_least_2 u_err ();
        end
    endgenerate

    // ------------------------------------------------------------------
    // stage A: issue, credits
    // ------------------------------------------------------------------
    reg  [NFW-1:0] a_nf;
    reg  [SFW-1:0] a_sf;
    reg  [WAW-1:0] a_addr;
    reg  [QCW-1:0] credits;

    wire a_last    = (a_sf == SF_LAST);
    wire a_valid   = s_axis_tvalid;        // every beat reads the stream
    wire can       = !a_last || (credits != {QCW{1'b0}});
    wire issue     = a_valid && can;
    wire a_nf_last = (a_nf == NF_LAST);
    wire a_wa_last = (a_addr == WA_LAST);
    // a_addr's next value: the weight-ROM address replicas load it
    wire [WAW-1:0] a_addr_next = !issue ? a_addr : (a_wa_last ? {WAW{1'b0}} : a_addr + WA_ONE);

    reg  [QCW-1:0] q_cnt;
    wire pop = (q_cnt != {QCW{1'b0}}) && m_axis_tready;

    assign s_axis_tready = can;

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
    // stage B: input word, ROM address, beat flags
    // ------------------------------------------------------------------
    reg  [XW-1:0]  b_x;

    always @(posedge ap_clk) begin
        b_x <= s_axis_tdata;
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
    // stage X: per PE group a copy of its PEs' lanes; group enables at stage ST
    // ------------------------------------------------------------------
    // Group g (PEs g*GPE .. g*GPE+GN-1, GN = min(GPE, PE - g*GPE)) holds lane
    // (l, q) = kernel position l of its PE q at
    // x_g[g*GPE*PXW + (l*GN + q)*IBITS +: IBITS]; the groups tile XW bits.
    wire [XW-1:0]   x_g;     // the groups' lanes (stage X)
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
            wire [GN*PXW-1:0] xsel;
            reg  [GN*PXW-1:0] xr;
            reg               vr, fr;
            genvar l, q;
            for (l = 0; l < SIMD; l = l + 1) begin : g_l
                for (q = 0; q < GN; q = q + 1) begin : g_q
                    assign xsel[(l*GN + q)*IBITS +: IBITS] = b_x[(l*PE + g*GPE + q)*IBITS +: IBITS];
                end
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
            assign x_g[g*GPE*PXW +: GN*PXW] = xr;
            assign gv[g] = vr;
            assign gf[g] = fr;
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
            // this PE's lanes l*PE + p of its group's copy of the input word
            wire [PXW-1:0] xp;
            genvar l;
            for (l = 0; l < SIMD; l = l + 1) begin : g_lane
                assign xp[l*IBITS +: IBITS] = x_g[GP*GPE*PXW + (l*GNP + p - GP*GPE)*IBITS +: IBITS];
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
                // SUM v of this PE: SUM w (bnn_dot's vsum, bipolar inputs) or
                // SUM x over its own lanes (bipolar weights), same stage as dsum
                wire [AB-1:0] vs;
                reg  [AB-1:0] accv;
                if (PE_V == 1) begin : g_pev
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
                always @(posedge ap_clk) begin
                    fin <= {acc[AB-2:0], 1'b0} - av;
                end
                assign val[p*AB +: AB] = fin;
            end else begin : g_nofin
                assign val[p*AB +: AB] = acc;
                wire unused_v = &{1'b0, dvsum};
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

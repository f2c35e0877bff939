// bnn_topk.v -- top-K / argmax head (FINN LabelSelect semantics).
//
// Consumes vectors of N values, ELEMS values per input word (value e of a
// word at bits [e*ELEM_BITS +: ELEM_BITS]; value index = word*ELEMS + e;
// lanes with index >= N in the last word are ignored), and emits K output
// words per vector: the indices of the K largest values, best first. Ties go
// to the lower index (a later value must be strictly greater to overtake).
// Values are two's complement if SIGNED = 1, unsigned otherwise. Output
// words are IDX_BITS wide (index zero-extended).
//
// Implementation: a pipelined tournament. Each lane of an accepted word is a
// one-entry sorted list, registered in stage 0 (so the upstream output, often
// a LUT-RAM read, meets a register first); L = clog2(ELEMS) registered levels
// then each merge pairs of neighbouring lists (lower lanes on the left) into
// one sorted list of at most K entries, so stage L holds the best K of the
// word. The merge stage
// then merges that list into the running list of the vector (earlier words
// on the left). Every path crosses one merge: K*K comparators and a K-input
// count, one comparator for argmax (K = 1). When the last word of a vector
// is merged, the final K indices are copied into an output shift register.
//
// merge(A, B) of two sorted lists whose indices are all lower in A: an entry
// a of A goes before an entry b of B iff a is valid and (b is invalid or
// a >= b); so ties go to the lower index and empty entries sort last.
//
// Timing (cycle exact; registers: base (R) = index of lane 0 of the next
// word to accept; stage l = 0..L: sv_l (R), sl_l (R), sf_l, lists_l; the
// running list; out_cnt (R) in [0,K]; out_q):
//   last = (base == (NW-1)*ELEMS), NW = ceil(N/ELEMS), first = (base == 0)
//   the word at the merge stage: stage L (present if sv_L; flags sf_L, sl_L;
//     sl_L only if sv_L)
//   free = (out_cnt == 0) || (out_cnt == 1 && m_axis_tready)
//   adv  = !sl_L || free
//   s_axis_tready = adv; m_axis_tvalid = (out_cnt != 0), m_axis_tdata = out_q[0]
//   at a rising edge with adv:
//     push (s_axis_tvalid): base <= last ? 0 : base + ELEMS
//     stage 0 <= (s_axis_tvalid, first, last, the lanes of the input word);
//     stage l <= (stage l-1 flags, level-l merges of stage l-1) for l = 1..L
//     if a word is at the merge stage: list <= merge(first ? empty : list, word's list);
//       if it is the last word: out_q <= indices of that list, out_cnt <= K
//   otherwise (or if no last word merged) on pop (m_axis_tvalid &&
//   m_axis_tready): shift out_q, out_cnt--
// The output words of a vector whose last word is accepted at cycle t appear
// on m_axis from cycle t+2+L (one per cycle if not back-pressured) when the
// pipeline does not stall. A word behind a last word that waits for the
// output register waits with it (the whole pipeline holds). Throughput:
// max(NW, K) cycles per vector.
// Note: s_axis_tready depends combinationally on m_axis_tready (only in the
// cycle where the last word of a vector, at the merge stage, meets the last
// pending output word).
//
// Parameter checking: see bnn_rom.v (missing `ERROR_...` module).
`default_nettype none

module bnn_topk #(
    parameter integer N         = 10,  // values per vector (>= 1)
    parameter integer ELEMS     = 2,   // values per input word (>= 1)
    parameter integer ELEM_BITS = 8,   // bits per value (>= 1)
    parameter integer SIGNED    = 1,   // 1: values are two's complement, 0: unsigned
    parameter integer K         = 1,   // indices emitted per vector (1 <= K <= N)
    parameter integer IDX_BITS  = 8    // output word width (>= max(1, clog2(N)))
) (
    input  wire                       ap_clk,         // clock
    input  wire                       ap_rst_n,       // synchronous reset, active low
    input  wire [ELEMS*ELEM_BITS-1:0] s_axis_tdata,   // values
    input  wire                       s_axis_tvalid,
    output wire                       s_axis_tready,
    output wire [IDX_BITS-1:0]        m_axis_tdata,   // one index per word, best first
    output wire                       m_axis_tvalid,
    input  wire                       m_axis_tready
);

    localparam integer IW    = (N > 1) ? $clog2(N) : 1;          // index width
    localparam integer NW    = (N + ELEMS - 1) / ELEMS;          // words per vector
    localparam integer LASTN = N - (NW - 1) * ELEMS;             // valid lanes in the last word
    localparam integer LB_I  = (NW - 1) * ELEMS;
    localparam integer EB    = ELEM_BITS;
    localparam integer CNTW  = $clog2(K + 1);
    localparam [IW-1:0] LAST_BASE = LB_I[IW-1:0];
    localparam [IW-1:0] BASE_INC  = ELEMS[IW-1:0];
    localparam [CNTW-1:0] CNT_K   = K[CNTW-1:0];
    localparam [CNTW-1:0] CNT_ONE = 1;

    generate
        if (N < 1 || ELEMS < 1 || ELEM_BITS < 1) begin : g_err_dims
            ERROR_bnn_topk_N_ELEMS_ELEM_BITS_must_be_positive u_err ();
        end
        if (K < 1 || K > N) begin : g_err_k
            ERROR_bnn_topk_K_must_be_in_1_to_N u_err ();
        end
        if (IDX_BITS < IW) begin : g_err_idx
            ERROR_bnn_topk_IDX_BITS_too_small_for_N u_err ();
        end
    endgenerate

    localparam integer W  = EB + IW + 1;                          // entry {ok, idx, value}
    localparam integer LW = K * W;                                // one sorted list, entry 0 best
    localparam integer L  = (ELEMS > 1) ? $clog2(ELEMS) : 0;     // tree levels
    localparam integer SV = L + 1;                                // stages 0..L

    reg  [IW-1:0]    base;
    reg  [LW-1:0]    list;     // running list of the vector
    reg  [CNTW-1:0]  out_cnt;
    reg  [K*IW-1:0]  out_q;
    // stage flags, bit l for stage l
    reg  [SV-1:0]    sv;       // stage holds a word
    reg  [SV-1:0]    sf;       // ... the first word of a vector
    reg  [SV-1:0]    sl;       // ... the last word (only if present)
    reg  [ELEMS*LW-1:0] leaf_q;   // stage 0: the lanes of the word

    wire last  = (base == LAST_BASE);
    wire first = (base == {IW{1'b0}});
    wire free  = (out_cnt == {CNTW{1'b0}}) || (out_cnt == CNT_ONE && m_axis_tready);
    wire pop   = (out_cnt != {CNTW{1'b0}}) && m_axis_tready;

    wire            m_here  = sv[SV-1];   // a word is at the merge stage (stage L)
    wire            m_first = sf[SV-1];
    wire            m_last  = sl[SV-1];
    wire [LW-1:0]   m_list;               // its best K
    wire            adv = !m_last || free;
    wire            push = s_axis_tvalid && adv;

    assign s_axis_tready = adv;
    assign m_axis_tvalid = (out_cnt != {CNTW{1'b0}});

    bnn_resize #(.IN_W(IW), .OUT_W(IDX_BITS), .SIGNED(0)) u_idx (
        .din (out_q[IW-1:0]),
        .dout(m_axis_tdata)
    );

    // ------------------------------------------------------------------
    // level 0: each lane is a list of one entry (empty if beyond N)
    // ------------------------------------------------------------------
    wire [ELEMS*LW-1:0] leaf;
    always @(posedge ap_clk) begin
        if (adv) begin
            leaf_q <= leaf;
        end
    end
    genvar e, l, m;
    generate
        for (e = 0; e < ELEMS; e = e + 1) begin : g_leaf
            localparam integer EI = e;
            localparam [IW-1:0] E_OFF = EI[IW-1:0];
            // lanes beyond N exist only in the last word
            wire use_lane = (e < LASTN) ? 1'b1 : !last;
            wire [IW-1:0] idx = base + E_OFF;
            if (K > 1) begin : g_pad
                assign leaf[e*LW +: LW] = {{(LW - W){1'b0}}, use_lane, idx, s_axis_tdata[e*EB +: EB]};
            end else begin : g_one
                assign leaf[e*LW +: LW] = {use_lane, idx, s_axis_tdata[e*EB +: EB]};
            end
        end

        // --------------------------------------------------------------
        // levels 1..L: registered pairwise merges
        // --------------------------------------------------------------
        for (l = 1; l <= L; l = l + 1) begin : g_st
            localparam integer MP = (ELEMS + (1 << (l - 1)) - 1) >> (l - 1);  // lists in
            localparam integer ML = (MP + 1) / 2;                               // lists out
            wire [MP*LW-1:0] src;
            wire [ML*LW-1:0] nxt;
            reg  [ML*LW-1:0] q;
            if (l == 1) begin : g_from_leaf
                assign src = leaf_q;
            end else begin : g_from_stage
                assign src = g_st[l-1].q;
            end
            for (m = 0; m < ML; m = m + 1) begin : g_m
                if (2 * m + 1 < MP) begin : g_pair
                    bnn_topk_merge #(.K(K), .EB(EB), .IW(IW), .SIGNED(SIGNED)) u_merge (
                        .a(src[(2*m)*LW +: LW]),
                        .b(src[(2*m+1)*LW +: LW]),
                        .y(nxt[m*LW +: LW])
                    );
                end else begin : g_pass
                    assign nxt[m*LW +: LW] = src[(2*m)*LW +: LW];
                end
            end
            always @(posedge ap_clk) begin
                if (adv) begin
                    q <= nxt;
                end
            end
        end

        if (L == 0) begin : g_merge_leaf
            assign m_list = leaf_q[LW-1:0];
        end else begin : g_merge_st
            assign m_list = g_st[L].q[LW-1:0];
        end
    endgenerate

    // ------------------------------------------------------------------
    // merge stage: the word's best K into the running list
    // ------------------------------------------------------------------
    wire [LW-1:0] run_in = m_first ? {LW{1'b0}} : list;
    wire [LW-1:0] merged;
    bnn_topk_merge #(.K(K), .EB(EB), .IW(IW), .SIGNED(SIGNED)) u_run (
        .a(run_in),
        .b(m_list),
        .y(merged)
    );

    wire [K*IW-1:0] merged_idx;
    genvar j;
    generate
        for (j = 0; j < K; j = j + 1) begin : g_idx
            assign merged_idx[j*IW +: IW] = merged[j*W + EB +: IW];
        end
    endgenerate

    wire fire = adv && m_here;

    // stage flags shift in from the input: bit l = stage l
    wire [SV-1:0] sv_next, sl_next, sf_next;
    generate
        if (SV > 1) begin : g_shift
            assign sv_next = {sv[SV-2:0], s_axis_tvalid};
            assign sl_next = {sl[SV-2:0], s_axis_tvalid & last};
            assign sf_next = {sf[SV-2:0], first};
        end else begin : g_one_stage
            assign sv_next = s_axis_tvalid;
            assign sl_next = s_axis_tvalid & last;
            assign sf_next = first;
        end
    endgenerate

    // ------------------------------------------------------------------
    // registers
    // ------------------------------------------------------------------
    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            base    <= {IW{1'b0}};
            out_cnt <= {CNTW{1'b0}};
            sv      <= {SV{1'b0}};
            sl      <= {SV{1'b0}};
        end else begin
            if (push) begin
                base <= last ? {IW{1'b0}} : base + BASE_INC;
            end
            if (adv) begin
                sv <= sv_next;
                sl <= sl_next;
            end
            if (fire && m_last) begin
                out_cnt <= CNT_K;
            end else if (pop) begin
                out_cnt <= out_cnt - CNT_ONE;
            end
        end
    end

    always @(posedge ap_clk) begin
        if (adv) begin
            sf <= sf_next;
        end
        if (fire) begin
            list <= merged;
        end
        if (fire && m_last) begin
            out_q <= merged_idx;
        end else if (pop) begin
            out_q <= out_q >> IW;
        end
    end

endmodule

`default_nettype wire

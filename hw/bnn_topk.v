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
// Implementation: a sorted list of the best K (value, index) pairs seen so
// far; each accepted word inserts its ELEMS values combinationally (ELEMS
// chained insertion stages, K comparators each). When the last word of a
// vector is accepted, the final K indices are copied into an output shift
// register and the list restarts empty with the next word.
//
// Timing (cycle exact; registers: base (R) = index of lane 0 of the next word,
// list, out_cnt (R) in [0,K], out_q):
//   last = (base == (NW-1)*ELEMS), NW = ceil(N/ELEMS)
//   m_axis_tvalid = (out_cnt != 0), m_axis_tdata = out_q[0]
//   s_axis_tready = !last || out_cnt == 0 || (out_cnt == 1 && m_axis_tready)
//   push at a rising edge: list <= insert(base == 0 ? empty : list, word);
//     base <= last ? 0 : base + ELEMS;
//     if last: out_q <= indices of the final list, out_cnt <= K
//   otherwise on pop (m_axis_tvalid && m_axis_tready): shift out_q, out_cnt--
// The output words of a vector whose last word is accepted at cycle t appear
// on m_axis from cycle t+1 (one per cycle if not back-pressured). A new
// vector is accepted while the previous one is emitted; only its last word
// waits for the output register. Throughput: max(NW, K) cycles per vector.
// Note: s_axis_tready depends combinationally on m_axis_tready (only in the
// cycle where the last word of a vector meets the last pending output word).
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

    reg  [IW-1:0]     base;
    reg  [K*EB-1:0]   lv;      // list values, entry 0 = best
    reg  [K*IW-1:0]   li;      // list indices
    reg  [K-1:0]      lok;     // list entry valid
    reg  [CNTW-1:0]   out_cnt;
    reg  [K*IW-1:0]   out_q;

    wire last  = (base == LAST_BASE);
    wire first = (base == {IW{1'b0}});
    wire pop   = (out_cnt != {CNTW{1'b0}}) && m_axis_tready;

    assign s_axis_tready = !last || (out_cnt == {CNTW{1'b0}}) || (out_cnt == CNT_ONE && m_axis_tready);
    wire push = s_axis_tvalid && s_axis_tready;
    assign m_axis_tvalid = (out_cnt != {CNTW{1'b0}});

    bnn_resize #(.IN_W(IW), .OUT_W(IDX_BITS), .SIGNED(0)) u_idx (
        .din (out_q[IW-1:0]),
        .dout(m_axis_tdata)
    );

    // ------------------------------------------------------------------
    // insertion chain: stage e inserts lane e into the list (pv, pi, pok)
    // left by stage e-1 and produces (nv, ni, nok)
    // ------------------------------------------------------------------
    genvar e, j;
    generate
        for (e = 0; e < ELEMS; e = e + 1) begin : g_lane
            localparam integer EI = e;
            localparam [IW-1:0] E_OFF = EI[IW-1:0];
            wire [K*EB-1:0] pv, nv;
            wire [K*IW-1:0] pi, ni;
            wire [K-1:0]    pok, nok;
            if (e == 0) begin : g_src_list
                assign pv  = lv;
                assign pi  = li;
                assign pok = first ? {K{1'b0}} : lok;
            end else begin : g_src_prev
                assign pv  = g_lane[e-1].nv;
                assign pi  = g_lane[e-1].ni;
                assign pok = g_lane[e-1].nok;
            end
            wire [EB-1:0] v   = s_axis_tdata[e*EB +: EB];
            wire [IW-1:0] idx = base + E_OFF;
            // lanes beyond N exist only in the last word
            wire use_lane = (e < LASTN) ? 1'b1 : !last;
            // gt[j]: the new value goes at or before entry j; monotonic in j
            // (false...false true...true) because the list is sorted
            wire [K-1:0] gt;
            for (j = 0; j < K; j = j + 1) begin : g_ent
                wire [EB-1:0] ov     = pv[j*EB +: EB];
                wire          better = (SIGNED != 0) ? ($signed(v) > $signed(ov)) : (v > ov);
                assign gt[j] = use_lane && (!pok[j] || better);
                if (j == 0) begin : g_head
                    assign nv[j*EB +: EB] = gt[j] ? v : ov;
                    assign ni[j*IW +: IW] = gt[j] ? idx : pi[j*IW +: IW];
                    assign nok[j]         = gt[j] | pok[j];
                end else begin : g_rest
                    wire here = gt[j] && !gt[j-1];
                    assign nv[j*EB +: EB] = here ? v   : (gt[j] ? pv[(j-1)*EB +: EB] : ov);
                    assign ni[j*IW +: IW] = here ? idx : (gt[j] ? pi[(j-1)*IW +: IW] : pi[j*IW +: IW]);
                    assign nok[j]         = here ? 1'b1 : (gt[j] ? pok[j-1] : pok[j]);
                end
            end
        end
    endgenerate

    wire [K*EB-1:0] fin_v   = g_lane[ELEMS-1].nv;
    wire [K*IW-1:0] fin_i   = g_lane[ELEMS-1].ni;
    wire [K-1:0]    fin_ok  = g_lane[ELEMS-1].nok;

    // ------------------------------------------------------------------
    // registers
    // ------------------------------------------------------------------
    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            base    <= {IW{1'b0}};
            out_cnt <= {CNTW{1'b0}};
        end else begin
            if (push) begin
                base <= last ? {IW{1'b0}} : base + BASE_INC;
            end
            if (push && last) begin
                out_cnt <= CNT_K;
            end else if (pop) begin
                out_cnt <= out_cnt - CNT_ONE;
            end
        end
    end

    always @(posedge ap_clk) begin
        if (push) begin
            lv  <= fin_v;
            li  <= fin_i;
            lok <= fin_ok;
        end
        if (push && last) begin
            out_q <= fin_i;
        end else if (pop) begin
            out_q <= out_q >> IW;
        end
    end

endmodule

`default_nettype wire

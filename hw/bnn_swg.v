// bnn_swg.v -- sliding-window generator (im2col) with built-in padding,
// AXI-Stream in and out, one circular buffer of input words.
//
// ============================================================================
// FUNCTION
// ============================================================================
// Input: frames of an IH x IW image, NHWC, CW words per pixel (word cw of
// pixel (y, x) is frame word n = (y*IW + x)*CW + cw), WBITS bits per word.
// Output, per frame: for every output pixel (oy, ox) in raster order (oy
// outer), for ky = 0..KH-1, kx = 0..KW-1, cw = 0..CW-1 (cw innermost) one
// word: input word (iy, ix, cw) with iy = oy*SH - PH + ky, ix = ox*SW - PW + kx,
// or, when iy < 0 || iy >= IH || ix < 0 || ix >= IW, the pad word
// PAD[cw*WBITS +: WBITS].
//   OH = (IH + 2*PH - KH)/SH + 1, OW = (IW + 2*PW - KW)/SW + 1
// (integer division; PH rows of padding at the top and at the bottom, PW
// columns left and right). Every input word is consumed exactly once,
// including rows/columns no window uses. Frames follow each other with no
// gap and no reset. FW = IH*IW*CW input words and OH*OW*KH*KW*CW output
// words per frame.
//
// The buffer keeps the input words from the oldest one a window from the
// current one on can still need, hold(oy, ox) below, up to the newest one
// written; a window's last beat releases the words the next window no longer
// needs. DEPTH (buffer words) must be large enough for the reader to always
// progress; the generator computes it (passes::window::Window::depth(), see
// docs/hardware.md), which also lets the writer prefetch the next window
// while the current one is read. The module only checks DEPTH >= 1; a larger
// DEPTH is always fine.
//
// ============================================================================
// TIMING (cycle exact; this is docs/swg-pool-spec.md, which the cycle
// simulator src/cyclesim/swg.rs implements too)
// ============================================================================
// Cycle c ends at rising edge c; registers change only at rising edges;
// ap_rst_n is synchronous, active low, and clears the registers marked (R).
// "Frame index" = the index n of a word within its input frame.
//
// hold(oy, ox) = the frame index of the oldest input word any read from
// window (oy, ox) on can need:
//   hold(oy, ox) = (oy < OH-1 && oy*SH - PH + SH <= 0) ? 0
//                : min(FW, (min(max(oy*SH-PH, 0), IH)*IW
//                           + min(max(ox*SW-PW, 0), IW)) * CW)
// (it never decreases along the raster order of windows).
//
// Registers
//   Writer:   wr_ptr (R) in [0, DEPTH), the next buffer address written.
//   occ (R) in [0, DEPTH]: words written and not yet released.
//   held (R) in [0, FW]: frame index (in the frame being read) of the oldest
//             word not released; rel_ptr (R) in [0, DEPTH): its buffer address.
//   Reader odometer (R): oy, ox, ky, kx, cw: the next beat (output word).
//   Stage R:  r_valid (R), r_pad, r_cw, and mem_q (the buffer's read register).
//   Output queue as in bnn_mvtu: q_cnt (R) in {0,1,2}, q_head, q_tail;
//             m_axis_tvalid = (q_cnt != 0), m_axis_tdata = q_head.
//   mem[DEPTH] of WBITS-bit words (not reset).
//
// Combinational signals (all integers signed / unbounded)
//   iy = oy*SH - PH + ky, ix = ox*SW - PW + kx,
//   pad  = iy < 0 || iy >= IH || ix < 0 || ix >= IW
//   idx  = (iy*IW + ix)*CW + cw, off = idx - held   (used only when !pad;
//          then 0 <= off)
//   wlast = (ky == KH-1 && kx == KW-1 && cw == CW-1)
//   flast = wlast && oy == OH-1 && ox == OW-1
//   next window (oy', ox') = (ox == OW-1) ? (oy+1, 0) : (oy, ox+1)
//   rel   = flast ? FW - held : hold(oy', ox') - held  (released by a
//           window's last beat)
//   avail = (pad || off < occ) && (!wlast || rel <= occ)
//   adv   = !(r_valid && q_cnt == 2);  issue = adv && avail
//   s_axis_tready = (occ != DEPTH)       (registers only)
//   wr    = s_axis_tvalid && s_axis_tready
//   addr  = (rel_ptr + off) mod DEPTH  (one conditional subtraction)
//   push  = adv && r_valid;  pop = m_axis_tvalid && m_axis_tready
//   result = r_pad ? PAD[r_cw*WBITS +: WBITS] : mem_q
//
// At each rising edge (after reset)
//   if wr:    mem[wr_ptr] <= s_axis_tdata; wr_ptr <= (wr_ptr+1) mod DEPTH
//   occ <= occ + wr - ((issue && wlast) ? rel : 0)
//   if issue: advance the odometer (cw innermost, then kx, ky, ox, oy; after
//             the frame's last beat all are 0);
//             if !pad: mem_q <= mem[addr] (the pre-edge content);
//             if wlast: held <= flast ? 0 : hold(oy', ox');
//                       rel_ptr <= (rel_ptr + rel) mod DEPTH
//   if adv:   r_valid <= issue; r_pad <= pad; r_cw <= cw
//   queue:    push && !pop: q_cnt+1, data into q_head if q_cnt==0 else q_tail;
//             pop && !push: q_cnt-1, and q_head <= q_tail if q_cnt was 2;
//             push && pop : q_cnt unchanged (it is 1), q_head <= result.
//             (push with q_cnt==2 cannot happen: adv is 0 then.)
// Read/write hazards cannot happen: a read only touches a word written at an
// earlier edge (off < occ with the pre-edge occ) and a write only a slot that
// no held word occupies.
//
// Latency: a beat issued at edge t is in stage R during cycle t+1, pushed at
// edge t+1, and m_axis_tvalid is high from cycle t+2. A word accepted at
// edge t can be read from edge t+1 on. With adv always 1 and the data
// available, one beat (output word) per cycle; the writer accepts one word
// per cycle while the buffer has room. A stall caused by q_cnt == 2 lasts at
// least one cycle even if the consumer takes a word in that cycle (adv uses
// only registers). Reset state: everything (R) 0, so s_axis_tready is 1 and
// m_axis_tvalid is 0 in the first cycle after reset.
// Stream end: the reader never waits for a frame to begin; after a frame's
// last beat it goes on through the next frame's leading pad beats, up to the
// first beat that reads an input word or whose window end must release
// words not yet written. So after the last frame of a stream up to that many
// further words (the correct first words of a following frame) come out.
//
// ============================================================================
// RESOURCES
// ============================================================================
// mem: DEPTH x WBITS bits, one write port and one synchronous read port with
// enable (block RAM or LUTRAM; mem_q is the RAM's output register);
// registers: mem_q + 3*WBITS (r/q data), pointers and counters of
// clog2(DEPTH), clog2(DEPTH+1), clog2(FW+1) and the odometer; the address
// arithmetic (iy, ix, idx, hold of the next window) is NW-bit adders,
// comparators and constant multipliers (SH, SW, IW*CW, CW), NW ~
// clog2(FW + DEPTH) + 2.
//
// Parameter checking: see bnn_rom.v (missing `ERROR_...` module).
`default_nettype none

module bnn_swg #(
    parameter integer IH    = 5,   // input image height (>= 1)
    parameter integer IW    = 7,   // input image width (>= 1)
    parameter integer CW    = 2,   // words per pixel (>= 1)
    parameter integer WBITS = 8,   // bits per word (>= 1)
    parameter integer KH    = 3,   // kernel height (1 <= KH <= IH + 2*PH)
    parameter integer KW    = 3,   // kernel width (1 <= KW <= IW + 2*PW)
    parameter integer SH    = 1,   // vertical stride (>= 1)
    parameter integer SW    = 1,   // horizontal stride (>= 1)
    parameter integer PH    = 1,   // padding rows at the top and at the bottom (>= 0)
    parameter integer PW    = 1,   // padding columns left and right (>= 0)
    parameter integer DEPTH = 36,  // buffer words (>= 1; Window::depth() or more)
    parameter [CW*WBITS-1:0] PAD = {(CW*WBITS){1'b0}}  // pad word of channel word cw at [cw*WBITS +: WBITS]
) (
    input  wire             ap_clk,         // clock
    input  wire             ap_rst_n,       // synchronous reset, active low
    input  wire [WBITS-1:0] s_axis_tdata,   // input frames, NHWC words
    input  wire             s_axis_tvalid,
    output wire             s_axis_tready,
    output wire [WBITS-1:0] m_axis_tdata,   // windows (registered)
    output wire             m_axis_tvalid,
    input  wire             m_axis_tready
);

    // ------------------------------------------------------------------
    // derived constants and parameter checks
    // ------------------------------------------------------------------
    localparam integer OH = (IH + 2 * PH - KH) / SH + 1;   // output height
    localparam integer OW = (IW + 2 * PW - KW) / SW + 1;   // output width
    localparam integer FW = IH * IW * CW;                  // input words per frame
    // every intermediate value of the address arithmetic is below BOUND in
    // magnitude; NW-bit arithmetic (one extra sign bit) is exact for them
    localparam integer GA    = IH + 2 * PH + 2 * SH + KH + 1;
    localparam integer GB    = IW + 2 * PW + 2 * SW + KW + 1;
    localparam integer LIM   = 1 << 29;
    localparam integer BOUND = GA * GB * CW + DEPTH;
    localparam integer NW    = $clog2(BOUND + 1) + 1;

    localparam integer AW  = (DEPTH > 1) ? $clog2(DEPTH) : 1;     // buffer address
    localparam integer OCW = (DEPTH > 0) ? $clog2(DEPTH + 1) : 1; // occ
    localparam integer HW  = (FW > 0) ? $clog2(FW + 1) : 1;       // held
    localparam integer OYW = (OH > 1) ? $clog2(OH) : 1;
    localparam integer OXW = (OW > 1) ? $clog2(OW) : 1;
    localparam integer KYW = (KH > 1) ? $clog2(KH) : 1;
    localparam integer KXW = (KW > 1) ? $clog2(KW) : 1;
    localparam integer CCW = (CW > 1) ? $clog2(CW) : 1;

    generate
        if (IH < 1 || IW < 1 || CW < 1 || WBITS < 1) begin : g_err_dims
            ERROR_bnn_swg_IH_IW_CW_WBITS_must_be_positive u_err ();
        end
        if (KH < 1 || KW < 1 || SH < 1 || SW < 1) begin : g_err_kernel
            ERROR_bnn_swg_KH_KW_SH_SW_must_be_positive u_err ();
        end
        if (PH < 0 || PW < 0) begin : g_err_pad
            ERROR_bnn_swg_PH_PW_must_be_non_negative u_err ();
        end
        if (KH > IH + 2 * PH || KW > IW + 2 * PW) begin : g_err_fit
            ERROR_bnn_swg_kernel_larger_than_padded_image u_err ();
        end
        if (DEPTH < 1) begin : g_err_depth
            ERROR_bnn_swg_DEPTH_must_be_at_least_1 u_err ();
        end
        if (GA >= 32768 || GB >= 32768 || CW >= LIM || DEPTH >= LIM
            || GA * GB > LIM / CW) begin : g_err_size
            ERROR_bnn_swg_geometry_too_large u_err ();
        end
    endgenerate

    // width-exact constants
    localparam integer OH_M1 = OH - 1;
    localparam integer OW_M1 = OW - 1;
    localparam integer KH_M1 = KH - 1;
    localparam integer KW_M1 = KW - 1;
    localparam integer CW_M1 = CW - 1;
    localparam integer DP_M1 = DEPTH - 1;
    localparam integer IWCW  = IW * CW;
    localparam [OYW-1:0] OY_LAST = OH_M1[OYW-1:0];
    localparam [OXW-1:0] OX_LAST = OW_M1[OXW-1:0];
    localparam [KYW-1:0] KY_LAST = KH_M1[KYW-1:0];
    localparam [KXW-1:0] KX_LAST = KW_M1[KXW-1:0];
    localparam [CCW-1:0] CW_LAST = CW_M1[CCW-1:0];
    localparam [AW-1:0]  WP_LAST = DP_M1[AW-1:0];
    localparam [OCW-1:0] OCC_FULL = DEPTH[OCW-1:0];
    localparam [OYW-1:0] OY_ONE = 1;
    localparam [OXW-1:0] OX_ONE = 1;
    localparam [KYW-1:0] KY_ONE = 1;
    localparam [KXW-1:0] KX_ONE = 1;
    localparam [CCW-1:0] CW_ONE = 1;
    localparam [AW-1:0]  WP_ONE = 1;
    localparam [NW-1:0]  N_ZERO  = 0;
    localparam [NW-1:0]  N_ONE   = 1;
    localparam [NW-1:0]  N_IH    = IH[NW-1:0];
    localparam [NW-1:0]  N_IW    = IW[NW-1:0];
    localparam [NW-1:0]  N_CW    = CW[NW-1:0];
    localparam [NW-1:0]  N_IWCW  = IWCW[NW-1:0];
    localparam [NW-1:0]  N_SH    = SH[NW-1:0];
    localparam [NW-1:0]  N_SW    = SW[NW-1:0];
    localparam [NW-1:0]  N_PH    = PH[NW-1:0];
    localparam [NW-1:0]  N_PW    = PW[NW-1:0];
    localparam [NW-1:0]  N_FW    = FW[NW-1:0];
    localparam [NW-1:0]  N_DEPTH = DEPTH[NW-1:0];
    localparam [NW-1:0]  N_OH    = OH[NW-1:0];

    // ------------------------------------------------------------------
    // registers
    // ------------------------------------------------------------------
    reg  [AW-1:0]    wr_ptr;
    reg  [OCW-1:0]   occ;
    reg  [HW-1:0]    held;
    reg  [AW-1:0]    rel_ptr;
    reg  [OYW-1:0]   oy;
    reg  [OXW-1:0]   ox;
    reg  [KYW-1:0]   ky;
    reg  [KXW-1:0]   kx;
    reg  [CCW-1:0]   cw;
    reg              r_valid;
    reg              r_pad;
    reg  [CCW-1:0]   r_cw;
    reg  [WBITS-1:0] mem_q;
    reg  [1:0]       q_cnt;
    reg  [WBITS-1:0] q_head, q_tail;
    reg  [WBITS-1:0] mem [0:DEPTH-1];

    // ------------------------------------------------------------------
    // address arithmetic (NW bits, two's complement; a negative iy or ix
    // compares as a huge unsigned number, hence >= IH / IW)
    // ------------------------------------------------------------------
    wire [NW-1:0] oy_n   = {{(NW-OYW){1'b0}}, oy};
    wire [NW-1:0] ox_n   = {{(NW-OXW){1'b0}}, ox};
    wire [NW-1:0] ky_n   = {{(NW-KYW){1'b0}}, ky};
    wire [NW-1:0] kx_n   = {{(NW-KXW){1'b0}}, kx};
    wire [NW-1:0] cw_n   = {{(NW-CCW){1'b0}}, cw};
    wire [NW-1:0] held_n = {{(NW-HW){1'b0}}, held};
    wire [NW-1:0] occ_n  = {{(NW-OCW){1'b0}}, occ};
    wire [NW-1:0] rp_n   = {{(NW-AW){1'b0}}, rel_ptr};

    wire cw_last = (cw == CW_LAST);
    wire kx_last = (kx == KX_LAST);
    wire ky_last = (ky == KY_LAST);
    wire ox_last = (ox == OX_LAST);
    wire oy_last = (oy == OY_LAST);
    wire wlast   = ky_last && kx_last && cw_last;
    wire flast   = wlast && oy_last && ox_last;

    wire [NW-1:0] iy  = oy_n * N_SH + ky_n - N_PH;
    wire [NW-1:0] ix  = ox_n * N_SW + kx_n - N_PW;
    wire          pad = (iy >= N_IH) || (ix >= N_IW);
    wire [NW-1:0] idx = iy * N_IWCW + ix * N_CW + cw_n;
    wire [NW-1:0] off = idx - held_n;

    // hold of the next window (oy', ox')
    wire [NW-1:0] ny    = ox_last ? oy_n + N_ONE : oy_n;
    wire [NW-1:0] nx    = ox_last ? N_ZERO : ox_n + N_ONE;
    wire [NW-1:0] ntop  = ny * N_SH;                     // oy'*SH (>= 0)
    wire [NW-1:0] nleft = nx * N_SW;                     // ox'*SW (>= 0)
    wire          nzero = (ny + N_ONE < N_OH) && (ntop + N_SH <= N_PH);
    wire [NW-1:0] nrow0 = (ntop <= N_PH) ? N_ZERO : ntop - N_PH;
    wire [NW-1:0] ncol0 = (nleft <= N_PW) ? N_ZERO : nleft - N_PW;
    wire [NW-1:0] nrow  = (nrow0 > N_IH) ? N_IH : nrow0;
    wire [NW-1:0] ncol  = (ncol0 > N_IW) ? N_IW : ncol0;
    wire [NW-1:0] nraw  = nrow * N_IWCW + ncol * N_CW;
    wire [NW-1:0] nhold = nzero ? N_ZERO : ((nraw > N_FW) ? N_FW : nraw);
    wire [NW-1:0] rel   = flast ? N_FW - held_n : nhold - held_n;

    wire avail = (pad || off < occ_n) && (!wlast || rel <= occ_n);
    wire adv   = !(r_valid && (q_cnt == 2'd2));
    wire issue = adv && avail;

    assign s_axis_tready = (occ != OCC_FULL);
    wire wr = s_axis_tvalid && s_axis_tready;

    // buffer read address and the next rel_ptr / occ / held
    wire [NW-1:0] rd_sum  = rp_n + off;
    wire [NW-1:0] rd_addr = (rd_sum >= N_DEPTH) ? rd_sum - N_DEPTH : rd_sum;
    wire [NW-1:0] rp_sum  = rp_n + rel;
    wire [NW-1:0] rp_next = (rp_sum >= N_DEPTH) ? rp_sum - N_DEPTH : rp_sum;
    wire [NW-1:0] occ_next = occ_n + (wr ? N_ONE : N_ZERO) - ((issue && wlast) ? rel : N_ZERO);
    wire [NW-1:0] held_next = flast ? N_ZERO : nhold;
    wire [AW-1:0] addr = rd_addr[AW-1:0];
    // high bits that are zero whenever the value is used (range arguments above)
    wire unused_high_bits = &{1'b0, rd_addr[NW-1:AW], rp_next[NW-1:AW],
                              occ_next[NW-1:OCW], held_next[NW-1:HW]};

    // ------------------------------------------------------------------
    // buffer: one write port, one synchronous read port into mem_q
    // ------------------------------------------------------------------
    always @(posedge ap_clk) begin
        if (wr) begin
            mem[wr_ptr] <= s_axis_tdata;
        end
        if (issue && !pad) begin
            mem_q <= mem[addr];
        end
    end

    // ------------------------------------------------------------------
    // control
    // ------------------------------------------------------------------
    wire push = adv && r_valid;
    wire pop  = (q_cnt != 2'd0) && m_axis_tready;

    assign m_axis_tvalid = (q_cnt != 2'd0);
    assign m_axis_tdata  = q_head;

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            wr_ptr  <= {AW{1'b0}};
            occ     <= {OCW{1'b0}};
            held    <= {HW{1'b0}};
            rel_ptr <= {AW{1'b0}};
            oy      <= {OYW{1'b0}};
            ox      <= {OXW{1'b0}};
            ky      <= {KYW{1'b0}};
            kx      <= {KXW{1'b0}};
            cw      <= {CCW{1'b0}};
            r_valid <= 1'b0;
            q_cnt   <= 2'd0;
        end else begin
            if (wr) begin
                wr_ptr <= (wr_ptr == WP_LAST) ? {AW{1'b0}} : wr_ptr + WP_ONE;
            end
            occ <= occ_next[OCW-1:0];
            if (issue) begin
                if (cw_last) begin
                    cw <= {CCW{1'b0}};
                    if (kx_last) begin
                        kx <= {KXW{1'b0}};
                        if (ky_last) begin
                            ky <= {KYW{1'b0}};
                            if (ox_last) begin
                                ox <= {OXW{1'b0}};
                                oy <= oy_last ? {OYW{1'b0}} : oy + OY_ONE;
                            end else begin
                                ox <= ox + OX_ONE;
                            end
                        end else begin
                            ky <= ky + KY_ONE;
                        end
                    end else begin
                        kx <= kx + KX_ONE;
                    end
                end else begin
                    cw <= cw + CW_ONE;
                end
                if (wlast) begin
                    held    <= held_next[HW-1:0];
                    rel_ptr <= rp_next[AW-1:0];
                end
            end
            if (adv) begin
                r_valid <= issue;
            end
            if (push && !pop) begin
                q_cnt <= q_cnt + 2'd1;
            end else if (pop && !push) begin
                q_cnt <= q_cnt - 2'd1;
            end
        end
    end

    // stage R flags (no reset; qualified by r_valid)
    always @(posedge ap_clk) begin
        if (adv) begin
            r_pad <= pad;
            r_cw  <= cw;
        end
    end

    // pad words, one per channel word
    wire [WBITS-1:0] pad_word [0:CW-1];
    genvar g;
    generate
        for (g = 0; g < CW; g = g + 1) begin : g_pad
            assign pad_word[g] = PAD[g*WBITS +: WBITS];
        end
    endgenerate

    wire [WBITS-1:0] result = r_pad ? pad_word[r_cw] : mem_q;

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

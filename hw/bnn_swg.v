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
// DEPTHWISE = 1 (the depthwise order, for bnn_vvau): the same words per
// window, ordered cw = 0..CW-1 outermost, then ky, then kx innermost: each
// channel word's window (with words of PE channels: the PE channels in
// flight) with the kernel positions innermost. A window's first and last
// beats are the same in both orders, so hold, rel, wlast and DEPTH below
// do not change; only the odometer order inside a window does.
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
// Registers of the reference model (held and rel_ptr are not stored as such:
// see IMPLEMENTATION below for the registers that replace them)
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
//   if issue: advance the odometer (cw innermost, then kx, ky, ox, oy;
//             DEPTHWISE: kx innermost, then ky, cw, ox, oy; after the
//             frame's last beat all are 0);
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
// IMPLEMENTATION (not visible at the ports)
// ============================================================================
// The module behaves exactly as the model above at every port on every
// cycle, but no multiplier and no long arithmetic sits in front of `issue`:
// every value the model computes combinationally from the odometer is kept in
// lookahead registers, updated incrementally when the odometer steps, and
// every update is one constant-operand adder whose result is selected by
// issue / wr at the end of the cycle. Invariants (k = number of windows
// completed since reset, i.e. the current window is the k-th; all values of
// the model above):
//   cw_l, kx_l, ky_l, ox_l, oy_l (R) = (cw == CW-1), (kx == KW-1), ...;
//   ck_l (R) = the two inner digits are last: cw_l && kx_l (DEPTHWISE:
//             kx_l && ky_l);  wl (R) = wlast.
//   iy, ix (R): the beat's iy, ix (signed);  pad (R) = pad.
//   raddr (R) = (base + idx) mod DEPTH, base = the buffer address of frame
//             index 0 of the frame being read; equal to addr whenever !pad.
//   da (R) = occ - off - 1 (signed, DW bits): off < occ  <=>  da >= 0.
//   db (R) = occ - rel (signed):            rel <= occ  <=>  db >= 0.
//   full (R) = (occ == DEPTH), so s_axis_tready = !full.
//   Release schedule of the windows (pure functions of k, computed by
//   constant functions for the reset values):
//     H(k) = FW if window k is the last of its frame, else hold of window k+1;
//     held(k) = 0 in a frame's first window, else H(k-1); rel(k) = H(k) - held(k).
//   nrel0 (R) = -rel(k), rnz0 (R) = (rel(k) != 0),
//   nrel1 (R) = -rel(k+1), rnz1 (R) = (rel(k+1) != 0),
//   h1, h2 (R) = H(k+1), H(k+2); l1, l2 (R): windows k+1, k+2 end a frame;
//   qy, qx (R): the position of window (k+4) mod OH*OW, and qr, qc (R) its
//             clamp(qy*SH-PH, 0, IH)*IW*CW and clamp(qx*SW-PW, 0, IW)*CW.
// Per cycle:
//   avail = (pad || da >= 0) && (!wl || db >= 0); adv, issue, wr, push, pop
//   as in the model; wadv = issue && wl (the window ends).
//   da <= da + wr - (issue ? step : 0), step = idx(next beat) - idx(this
//         beat) (+ FW after a frame's last beat): inside a window one of
//         three constants S0/S1/S2 (the innermost digit steps / the middle
//         one / the outer one: 1, 1, IW*CW-KW*CW+1; DEPTHWISE: CW,
//         IW*CW-(KW-1)*CW, 1-(KH-1)*IW*CW-(KW-1)*CW), at a window end one of
//         three chosen by ox_l, oy_l (held and rel cancel);
//   raddr <= (raddr + step mod DEPTH) mod DEPTH on issue;
//   iy, ix, pad, the odometer and its flags step on issue;
//   occ <= occ + wr - (wadv ? rel(k) : 0); db <= db + wr - (wadv ? rel(k+1) : 0);
//   full <= (full || (occ == DEPTH-1 && wr)) && !(wadv && rel(k) != 0);
//   on wadv the release schedule shifts by one window: nrel0 <= nrel1,
//   nrel1 <= held(k+2) - H(k+2) (held(k+2) = l1 ? 0 : h1), h1 <= h2,
//   h2 <= H(k+3) (from qr + qc and three flags of qy, qx), and window q
//   steps (qr, qc step by a constant or clamp).
// Every value fits DW = clog2(BOUND+1) + 3 bits, BOUND = GA*GB*CW + DEPTH
// (below 4*BOUND in magnitude).
//
// ============================================================================
// RESOURCES
// ============================================================================
// mem: DEPTH x WBITS bits, one write port and one synchronous read port with
// enable (mem_q is the RAM's output register), built from the primitive
// RAM_STYLE names: "block" (RAMB18/36, DP16KD, SB_RAM40_4K), "distributed"
// (LUT RAM: RAM64M/RAM32M on xc7, TRELLIS_DPR16X4 on ECP5; the read port is
// the LUT RAM's asynchronous read of the registered raddr into mem_q) or
// "auto" (the synthesis tool's choice). The generator picks block RAM when
// the buffer fills at least half of its 18-Kbit RAMs (docs/hardware.md, the
// size rule); the behaviour is the same for every style;
// registers: mem_q + 3*WBITS (r/q data), the writer pointer and occ, the
// odometer and its flags, and the lookahead registers above (about
// 6*DW + 4*clog2(FW+1) + clog2(DEPTH) bits). Logic: DW-bit adders with a
// constant or registered operand (da, db, occ, nrel1), small adders for
// raddr, iy, ix, qr, qc, comparators against constants; no multiplier.
// The geometry is limited (ERROR_bnn_swg_geometry_too_large) to
// GA*GB*CW <= 2^28 and DEPTH < 2^28 words so that DW <= 32.
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
    parameter [87:0]  RAM_STYLE = "auto", // buffer primitive: "block", "distributed" or "auto" (RESOURCES)
    parameter [CW*WBITS-1:0] PAD = {(CW*WBITS){1'b0}},  // pad word of channel word cw at [cw*WBITS +: WBITS]
    parameter integer DEPTHWISE = 0  // 1: per window cw outermost, kx innermost (the VVAU's order)
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
    localparam integer OH   = (IH + 2 * PH - KH) / SH + 1;   // output height
    localparam integer OW   = (IW + 2 * PW - KW) / SW + 1;   // output width
    localparam integer FW   = IH * IW * CW;                  // input words per frame
    localparam integer NWIN = OH * OW;                       // windows per frame
    localparam integer IWCW = IW * CW;
    // every value of the address arithmetic is below 3*BOUND in magnitude;
    // DW-bit two's complement arithmetic is exact for them
    localparam integer GA    = IH + 2 * PH + 2 * SH + KH + 1;
    localparam integer GB    = IW + 2 * PW + 2 * SW + KW + 1;
    localparam integer LIM   = 1 << 28;
    localparam integer BOUND = GA * GB * CW + DEPTH;
    localparam integer DW    = $clog2(BOUND + 1) + 3;
    localparam integer YW    = $clog2(GA + 1) + 1;          // iy (signed)
    localparam integer XW    = $clog2(GB + 1) + 1;          // ix (signed)

    localparam integer AW  = (DEPTH > 1) ? $clog2(DEPTH) : 1;     // buffer address
    localparam integer OCW = (DEPTH > 0) ? $clog2(DEPTH + 1) : 1; // occ
    localparam integer HW  = (FW > 0) ? $clog2(FW + 1) : 1;       // hold values
    localparam integer OYW = (OH > 1) ? $clog2(OH) : 1;
    localparam integer OXW = (OW > 1) ? $clog2(OW) : 1;
    localparam integer KYW = (KH > 1) ? $clog2(KH) : 1;
    localparam integer KXW = (KW > 1) ? $clog2(KW) : 1;
    localparam integer CCW = (CW > 1) ? $clog2(CW) : 1;
    localparam [87:0] S_BLOCK = "block";        // RAM_STYLE values
    localparam [87:0] S_DIST  = "distributed";
    localparam [87:0] S_AUTO  = "auto";

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
        if (RAM_STYLE != S_BLOCK && RAM_STYLE != S_DIST && RAM_STYLE != S_AUTO) begin : g_err_style
            ERROR_bnn_swg_RAM_STYLE_must_be_block_distributed_or_auto u_err ();
        end
        if (GA >= 32768 || GB >= 32768 || CW >= LIM || DEPTH >= LIM
            || GA * GB > LIM / CW) begin : g_err_size
            ERROR_bnn_swg_geometry_too_large u_err ();
        end
    endgenerate

    // ------------------------------------------------------------------
    // constant functions: the release schedule of the windows
    // ------------------------------------------------------------------
    // clamp v to [0, hi]
    function integer clampi;
        input integer v;
        input integer hi;
        begin
            if (v < 0) clampi = 0;
            else if (v > hi) clampi = hi;
            else clampi = v;
        end
    endfunction

    // hold(oy, ox) of window w = oy*OW + ox, 0 <= w < NWIN
    function integer hold_w;
        input integer w;
        integer wy, wx;
        begin
            wy = w / OW;
            wx = w % OW;
            if (wy < OH - 1 && wy * SH - PH + SH <= 0) begin
                hold_w = 0;
            end else begin
                hold_w = (clampi(wy * SH - PH, IH) * IW + clampi(wx * SW - PW, IW)) * CW;
                if (hold_w > FW) hold_w = FW;
            end
        end
    endfunction

    // H(k): frame index up to which the last beat of window k (k-th window
    // since reset, k >= 0) releases: FW for a frame's last window, else hold
    // of the next window
    function integer h_at;
        input integer k;
        begin
            if (k % NWIN == NWIN - 1) h_at = FW;
            else h_at = hold_w((k + 1) % NWIN);
        end
    endfunction

    // rel(k) = H(k) - held during window k (0 in a frame's first window)
    function integer rel_at;
        input integer k;
        begin
            if (k % NWIN == 0) rel_at = h_at(k);
            else rel_at = h_at(k) - h_at(k - 1);
        end
    endfunction

    // ------------------------------------------------------------------
    // constants of the incremental arithmetic
    // ------------------------------------------------------------------
    // frame index of the first and of the last beat of a frame
    localparam integer IDX_FIRST = -(PH * IW + PW) * CW;
    localparam integer IDX_LAST  = ((OH - 1) * SH - PH + KH - 1) * IWCW
                                 + ((OW - 1) * SW - PW + KW - 1) * CW + CW - 1;
    // idx step of each odometer transition (cw or kx step: +1)
    localparam integer D_KY = IWCW - KW * CW + 1;
    // The three digits of the odometer inside a window, innermost first:
    // (cw, kx, ky), or with DEPTHWISE (kx, ky, cw). S0/S1/S2: the idx,
    // iy and ix steps when digit 0 steps, when digit 1 steps (digit 0 wraps)
    // and when digit 2 steps (digits 0 and 1 wrap). The window-end steps are
    // the same in both orders: the last beat of a window is (ky, kx, cw) =
    // (KH-1, KW-1, CW-1) and the first (0, 0, 0) in both.
    localparam integer D_S0 = (DEPTHWISE != 0) ? CW : 1;
    localparam integer D_S1 = (DEPTHWISE != 0) ? IWCW - (KW - 1) * CW : 1;
    localparam integer D_S2 = (DEPTHWISE != 0) ? 1 - (KH - 1) * IWCW - (KW - 1) * CW : D_KY;
    localparam integer D_OX = SW * CW - (KH - 1) * IWCW - KW * CW + 1;
    localparam integer D_OY = (SH - KH + 1) * IWCW - ((OW - 1) * SW + KW) * CW + 1;
    localparam integer D_FR = FW + IDX_FIRST - IDX_LAST;   // into the next frame
    // the same steps modulo DEPTH (buffer read address)
    localparam integer R_S0 = ((D_S0 % DEPTH) + DEPTH) % DEPTH;
    localparam integer R_S1 = ((D_S1 % DEPTH) + DEPTH) % DEPTH;
    localparam integer R_S2 = ((D_S2 % DEPTH) + DEPTH) % DEPTH;
    localparam integer R_OX = ((D_OX % DEPTH) + DEPTH) % DEPTH;
    localparam integer R_OY = ((D_OY % DEPTH) + DEPTH) % DEPTH;
    localparam integer R_FR = ((D_FR % DEPTH) + DEPTH) % DEPTH;
    localparam integer R_0  = ((IDX_FIRST % DEPTH) + DEPTH) % DEPTH;
    // iy / ix steps
    localparam integer Y_OX = 1 - KH;
    localparam integer Y_OY = SH - KH + 1;
    localparam integer Y_FR = -((OH - 1) * SH + KH - 1);
    localparam integer Y_S0 = 0;
    localparam integer Y_S1 = (DEPTHWISE != 0) ? 1 : 0;
    localparam integer Y_S2 = (DEPTHWISE != 0) ? 1 - KH : 1;
    localparam integer X_S0 = (DEPTHWISE != 0) ? 1 : 0;
    localparam integer X_S1 = (DEPTHWISE != 0) ? 1 - KW : 1;
    localparam integer X_S2 = 1 - KW;
    localparam integer X_OX = SW - KW + 1;
    localparam integer X_OY = -((OW - 1) * SW + KW - 1);
    // row / column clamp thresholds of hold(): window row qy has
    // qy*SH - PH <= 0 iff qy <= YZ and >= IH iff qy >= YF; U1 is the first
    // positive value of qy*SH - PH (likewise for columns)
    localparam integer YZ = PH / SH;
    localparam integer YF = (IH + PH + SH - 1) / SH;
    localparam integer U1 = (YZ + 1) * SH - PH;
    localparam integer XZ = PW / SW;
    localparam integer XF = (IW + PW + SW - 1) / SW;
    localparam integer V1 = (XZ + 1) * SW - PW;
    // reset state of the window lookahead (windows 0, 1, 2; q = window 4)
    localparam integer Q0   = 4 % NWIN;
    localparam integer QY0  = Q0 / OW;
    localparam integer QX0  = Q0 % OW;
    localparam integer RR0  = clampi(QY0 * SH - PH, IH) * IWCW;
    localparam integer CC0  = clampi(QX0 * SW - PW, IW) * CW;
    localparam integer H1_0 = h_at(1);
    localparam integer H2_0 = h_at(2);
    localparam integer NR0  = -rel_at(0);
    localparam integer NR1  = -rel_at(1);
    localparam integer DA0  = -IDX_FIRST - 1;

    // width-exact constants
    localparam integer OH_M1 = OH - 1;
    localparam integer OW_M1 = OW - 1;
    localparam integer OH_M2 = (OH > 1) ? OH - 2 : 0;
    localparam integer OW_M2 = (OW > 1) ? OW - 2 : 0;
    localparam integer KH_M2 = (KH > 1) ? KH - 2 : 0;
    localparam integer KW_M2 = (KW > 1) ? KW - 2 : 0;
    localparam integer CW_M2 = (CW > 1) ? CW - 2 : 0;
    localparam integer DP_M1 = DEPTH - 1;
    localparam integer M_S0  = -D_S0;
    localparam integer M_S1  = -D_S1;
    localparam integer M_S2  = -D_S2;
    localparam integer M_DOX = -D_OX;
    localparam integer M_DOY = -D_OY;
    localparam integer M_DFR = -D_FR;
    localparam integer S_S0  = R_S0 - DEPTH;
    localparam integer S_S1  = R_S1 - DEPTH;
    localparam integer S_S2  = R_S2 - DEPTH;
    localparam integer S_OX  = R_OX - DEPTH;
    localparam integer S_OY  = R_OY - DEPTH;
    localparam integer S_FR  = R_FR - DEPTH;
    localparam integer PH_N  = -PH;
    localparam integer PW_N  = -PW;
    localparam integer UR1   = U1 * IWCW;
    localparam integer VC1   = V1 * CW;
    localparam integer SR    = SH * IWCW;
    localparam integer SC    = SW * CW;
    localparam [OYW-1:0] OY_LAST = OH_M1[OYW-1:0];
    localparam [OXW-1:0] OX_LAST = OW_M1[OXW-1:0];
    localparam [OYW-1:0] OY_PEN  = OH_M2[OYW-1:0];
    localparam [OXW-1:0] OX_PEN  = OW_M2[OXW-1:0];
    localparam [KYW-1:0] KY_PEN  = KH_M2[KYW-1:0];
    localparam [KXW-1:0] KX_PEN  = KW_M2[KXW-1:0];
    localparam [CCW-1:0] CW_PEN  = CW_M2[CCW-1:0];
    localparam [OYW-1:0] OY_ONE = 1;
    localparam [OXW-1:0] OX_ONE = 1;
    localparam [KYW-1:0] KY_ONE = 1;
    localparam [KXW-1:0] KX_ONE = 1;
    localparam [CCW-1:0] CW_ONE = 1;
    localparam [AW-1:0]  WP_LAST = DP_M1[AW-1:0];
    localparam [AW-1:0]  WP_ONE  = 1;
    localparam [OCW-1:0] OCC_PEN = DP_M1[OCW-1:0];
    localparam [DW-1:0]  N_S0  = M_S0[DW-1:0];
    localparam [DW-1:0]  N_S1  = M_S1[DW-1:0];
    localparam [DW-1:0]  N_S2  = M_S2[DW-1:0];
    localparam [DW-1:0]  N_DOX = M_DOX[DW-1:0];
    localparam [DW-1:0]  N_DOY = M_DOY[DW-1:0];
    localparam [DW-1:0]  N_DFR = M_DFR[DW-1:0];
    localparam [DW-1:0]  N_DA0 = DA0[DW-1:0];
    localparam [DW-1:0]  N_NR0 = NR0[DW-1:0];
    localparam [DW-1:0]  N_NR1 = NR1[DW-1:0];
    localparam [AW:0]    A_S0  = R_S0[AW:0];
    localparam [AW:0]    A_S1  = R_S1[AW:0];
    localparam [AW:0]    A_S2  = R_S2[AW:0];
    localparam [AW:0]    A_OX  = R_OX[AW:0];
    localparam [AW:0]    A_OY  = R_OY[AW:0];
    localparam [AW:0]    A_FR  = R_FR[AW:0];
    localparam [AW:0]    B_S0  = S_S0[AW:0];
    localparam [AW:0]    B_S1  = S_S1[AW:0];
    localparam [AW:0]    B_S2  = S_S2[AW:0];
    localparam [AW:0]    B_OX  = S_OX[AW:0];
    localparam [AW:0]    B_OY  = S_OY[AW:0];
    localparam [AW:0]    B_FR  = S_FR[AW:0];
    localparam [AW-1:0]  A_0   = R_0[AW-1:0];
    localparam [YW-1:0]  Y_DS0 = Y_S0[YW-1:0];
    localparam [YW-1:0]  Y_DS1 = Y_S1[YW-1:0];
    localparam [YW-1:0]  Y_DS2 = Y_S2[YW-1:0];
    localparam [YW-1:0]  Y_DOX = Y_OX[YW-1:0];
    localparam [YW-1:0]  Y_DOY = Y_OY[YW-1:0];
    localparam [YW-1:0]  Y_DFR = Y_FR[YW-1:0];
    localparam [YW-1:0]  Y_0   = PH_N[YW-1:0];
    localparam [YW-1:0]  Y_IH  = IH[YW-1:0];
    localparam [XW-1:0]  X_DS0 = X_S0[XW-1:0];
    localparam [XW-1:0]  X_DS1 = X_S1[XW-1:0];
    localparam [XW-1:0]  X_DS2 = X_S2[XW-1:0];
    localparam [XW-1:0]  X_DOX = X_OX[XW-1:0];
    localparam [XW-1:0]  X_DOY = X_OY[XW-1:0];
    localparam [XW-1:0]  X_0   = PW_N[XW-1:0];
    localparam [XW-1:0]  X_IW  = IW[XW-1:0];
    localparam [HW-1:0]  H_FW  = FW[HW-1:0];
    localparam [HW-1:0]  H_UR1 = UR1[HW-1:0];
    localparam [HW-1:0]  H_VC1 = VC1[HW-1:0];
    localparam [HW-1:0]  H_IWCW = IWCW[HW-1:0];
    localparam [HW-1:0]  H_SR  = SR[HW-1:0];
    localparam [HW-1:0]  H_SC  = SC[HW-1:0];
    localparam [HW-1:0]  H_H1  = H1_0[HW-1:0];
    localparam [HW-1:0]  H_H2  = H2_0[HW-1:0];
    localparam [HW-1:0]  H_RR0 = RR0[HW-1:0];
    localparam [HW-1:0]  H_CC0 = CC0[HW-1:0];
    localparam [OYW-1:0] QY_0  = QY0[OYW-1:0];
    localparam [OXW-1:0] QX_0  = QX0[OXW-1:0];
    // 32-bit thresholds for the window-row / -column counters
    localparam [31:0] T_YZ    = YZ;
    localparam [31:0] T_YF    = YF;
    localparam [31:0] T_XZ    = XZ;
    localparam [31:0] T_XF    = XF;
    localparam [31:0] T_OH_M1 = OH_M1;
    localparam        L1_0 = ((1 % NWIN) == NWIN - 1);
    localparam        L2_0 = ((2 % NWIN) == NWIN - 1);
    localparam        Z0_0 = (NR0 != 0);
    localparam        Z1_0 = (NR1 != 0);
    localparam        CWL_0 = (CW == 1);
    localparam        KXL_0 = (KW == 1);
    localparam        KYL_0 = (KH == 1);
    localparam        OXL_0 = (OW == 1);
    localparam        OYL_0 = (OH == 1);
    localparam        PAD_0 = (PH > 0) || (PW > 0);

    // ------------------------------------------------------------------
    // registers
    // ------------------------------------------------------------------
    // writer and occupancy
    reg  [AW-1:0]    wr_ptr;
    reg  [OCW-1:0]   occ;
    reg              full;       // occ == DEPTH
    // reader odometer and its lookahead flags (x_l: x is at its last value)
    reg  [OYW-1:0]   oy;
    reg  [OXW-1:0]   ox;
    reg  [KYW-1:0]   ky;
    reg  [KXW-1:0]   kx;
    reg  [CCW-1:0]   cw;
    reg              cw_l, kx_l, ky_l, ox_l, oy_l;
    reg              ck_l;       // digits 0 and 1 last: cw_l && kx_l (DEPTHWISE: kx_l && ky_l)
    reg              wl;         // wlast = cw_l && kx_l && ky_l
    // per-beat values of the next beat, maintained incrementally
    reg  [YW-1:0]    iy;
    reg  [XW-1:0]    ix;
    reg              pad;
    reg  [AW-1:0]    raddr;      // (rel_ptr + off) mod DEPTH
    reg  [DW-1:0]    da;         // occ - off - 1
    reg  [DW-1:0]    db;         // occ - rel
    // release schedule: window k is the current window
    reg  [DW-1:0]    nrel0;      // -rel(k)
    reg              rnz0;       // rel(k) != 0
    reg  [DW-1:0]    nrel1;      // -rel(k+1)
    reg              rnz1;       // rel(k+1) != 0
    reg  [HW-1:0]    h1, h2;     // H(k+1), H(k+2)
    reg              l1, l2;     // windows k+1, k+2 end a frame
    reg  [OYW-1:0]   qy;         // window q = (k+4) mod NWIN
    reg  [OXW-1:0]   qx;
    reg  [HW-1:0]    qr;         // clamp(qy*SH-PH, 0, IH)*IW*CW
    reg  [HW-1:0]    qc;         // clamp(qx*SW-PW, 0, IW)*CW
    // stage R and output queue
    reg              r_valid;
    reg              r_pad;
    reg  [CCW-1:0]   r_cw;
    reg  [WBITS-1:0] mem_q;
    reg  [1:0]       q_cnt;
    reg  [WBITS-1:0] q_head, q_tail;

    // ------------------------------------------------------------------
    // issue decision (registers only, a few LUTs deep)
    // ------------------------------------------------------------------
    wire avail = (pad || !da[DW-1]) && (!wl || !db[DW-1]);
    wire adv   = !(r_valid && (q_cnt == 2'd2));
    wire issue = adv && avail;
    wire wadv  = issue && wl;                  // window advance

    assign s_axis_tready = !full;
    wire wr = s_axis_tvalid && !full;

    // ------------------------------------------------------------------
    // next values, computed in parallel and selected by issue / wr
    // ------------------------------------------------------------------
    // idx step of this beat's transition, negated; the same modulo DEPTH
    // d0_l: digit 0 (cw, DEPTHWISE: kx) is at its last value
    wire          d0_l  = (DEPTHWISE != 0) ? kx_l : cw_l;
    wire [DW-1:0] nstep = !wl ? (ck_l ? N_S2 : (d0_l ? N_S1 : N_S0))
                        : (!ox_l ? N_DOX : (!oy_l ? N_DOY : N_DFR));
    wire [AW:0]   astep = !wl ? (ck_l ? A_S2 : (d0_l ? A_S1 : A_S0))
                        : (!ox_l ? A_OX : (!oy_l ? A_OY : A_FR));
    wire [AW:0]   bstep = !wl ? (ck_l ? B_S2 : (d0_l ? B_S1 : B_S0))
                        : (!ox_l ? B_OX : (!oy_l ? B_OY : B_FR));
    // x + y + wr as one adder: the low bit pair 1 + wr makes the carry-in
    wire [DW:0]   da_iss  = {da, 1'b1} + {nstep, wr};
    wire [DW:0]   da_hold = {da, 1'b1} + {{DW{1'b0}}, wr};
    wire [DW:0]   db_adv  = {db, 1'b1} + {nrel1, wr};
    wire [DW:0]   db_hold = {db, 1'b1} + {{DW{1'b0}}, wr};
    wire [DW:0]   oc_rel  = {{(DW-OCW){1'b0}}, occ, 1'b1} + {nrel0, wr};
    wire [OCW:0]  oc_hold = {occ, 1'b1} + {{OCW{1'b0}}, wr};
    wire [AW:0]   ra_a    = {1'b0, raddr} + astep;         // < 2*DEPTH
    wire [AW:0]   ra_b    = {1'b0, raddr} + bstep;         // ra_a - DEPTH
    wire [AW-1:0] ra_next = ra_b[AW] ? ra_a[AW-1:0] : ra_b[AW-1:0];
    wire          occ_pen = (occ == OCC_PEN);
    wire          full_nx = (full || (occ_pen && wr)) && !(wadv && rnz0);

    // iy / ix of the next beat and its pad flag
    wire [YW-1:0] ystep = !d0_l ? Y_DS0 : (!ck_l ? Y_DS1
                        : (!wl ? Y_DS2 : (!ox_l ? Y_DOX : (!oy_l ? Y_DOY : Y_DFR))));
    wire [XW-1:0] xstep = !d0_l ? X_DS0 : (!ck_l ? X_DS1
                        : (!wl ? X_DS2 : (!ox_l ? X_DOX : X_DOY)));
    wire [YW-1:0] iy_nx  = iy + ystep;
    wire [XW-1:0] ix_nx  = ix + xstep;
    wire          pad_nx = iy_nx[YW-1] || (iy_nx >= Y_IH) || ix_nx[XW-1] || (ix_nx >= X_IW);

    // odometer and flags after the step
    // (digit d steps when the digits inside it are all last)
    wire          cw_st   = (DEPTHWISE != 0) ? ck_l : 1'b1;
    wire          kx_st   = (DEPTHWISE != 0) ? 1'b1 : cw_l;
    wire          ky_st   = (DEPTHWISE != 0) ? kx_l : ck_l;
    wire          cw_l_nx = !cw_st ? cw_l : (cw_l ? CWL_0 : (cw == CW_PEN));
    wire          kx_l_nx = !kx_st ? kx_l : (kx_l ? KXL_0 : (kx == KX_PEN));
    wire          ky_l_nx = !ky_st ? ky_l : (ky_l ? KYL_0 : (ky == KY_PEN));
    wire          ox_l_nx = !wl ? ox_l : (ox_l ? OXL_0 : (ox == OX_PEN));
    wire          oy_l_nx = !(wl && ox_l) ? oy_l : (oy_l ? OYL_0 : (oy == OY_PEN));
    wire          ck_l_nx = (DEPTHWISE != 0) ? (kx_l_nx && ky_l_nx) : (cw_l_nx && kx_l_nx);

    // release schedule after a window advance
    wire [HW-1:0] held2  = l1 ? {HW{1'b0}} : h1;             // held during window k+2
    wire [DW-1:0] nrel_n = {{(DW-HW){1'b0}}, held2} - {{(DW-HW){1'b0}}, h2};
    wire [31:0]   qy32   = {{(32-OYW){1'b0}}, qy};
    wire [31:0]   qx32   = {{(32-OXW){1'b0}}, qx};
    wire          q_is0  = (qx == {OXW{1'b0}}) && (qy == {OYW{1'b0}});
    wire          q_zero = (qy32 + 32'd1 <= T_OH_M1) && (qy32 + 32'd1 <= T_YZ);   // hold() is 0
    wire          q_full = (qy32 >= T_YF);                      // row clamped at IH
    wire [HW:0]   q_sum  = {1'b0, qr} + {1'b0, qc};
    wire [HW-1:0] h_new  = (q_is0 || q_full) ? H_FW
                         : (q_zero ? {HW{1'b0}} : q_sum[HW-1:0]);
    wire [HW-1:0] qr_inc = qr + H_SR;
    wire [HW-1:0] qc_inc = qc + H_SC;
    wire [HW-1:0] qr_nx  = (qy32 + 32'd1 <= T_YZ) ? {HW{1'b0}}
                         : ((qy32 + 32'd1 >= T_YF) ? H_FW : ((qy32 == T_YZ) ? H_UR1 : qr_inc));
    wire [HW-1:0] qc_nx  = (qx32 + 32'd1 <= T_XZ) ? {HW{1'b0}}
                         : ((qx32 + 32'd1 >= T_XF) ? H_IWCW : ((qx32 == T_XZ) ? H_VC1 : qc_inc));

    // bits that are constant or unused by construction (range arguments in
    // the header)
    wire unused = &{1'b0, da_iss[0], da_hold[0], db_adv[0], db_hold[0], oc_rel[0],
                    oc_rel[DW:OCW+1], oc_hold[0], q_sum[HW], ra_a[AW]};

    // ------------------------------------------------------------------
    // buffer: one write port, one synchronous read port into mem_q
    // ------------------------------------------------------------------
    // Attributes cannot take parameter values in yosys, hence one generate
    // branch per style with the same behaviour (as in bnn_rom.v).
    generate
        if (RAM_STYLE == S_BLOCK) begin : g_block
            (* ram_style = "block" *)
            reg [WBITS-1:0] mem [0:DEPTH-1];
            always @(posedge ap_clk) begin
                if (wr) mem[wr_ptr] <= s_axis_tdata;
                if (issue && !pad) mem_q <= mem[raddr];
            end
        end else if (RAM_STYLE == S_DIST) begin : g_dist
            (* ram_style = "distributed" *)
            reg [WBITS-1:0] mem [0:DEPTH-1];
            always @(posedge ap_clk) begin
                if (wr) mem[wr_ptr] <= s_axis_tdata;
                if (issue && !pad) mem_q <= mem[raddr];
            end
        end else begin : g_auto
            reg [WBITS-1:0] mem [0:DEPTH-1];
            always @(posedge ap_clk) begin
                if (wr) mem[wr_ptr] <= s_axis_tdata;
                if (issue && !pad) mem_q <= mem[raddr];
            end
        end
    endgenerate

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
            full    <= 1'b0;
            oy      <= {OYW{1'b0}};
            ox      <= {OXW{1'b0}};
            ky      <= {KYW{1'b0}};
            kx      <= {KXW{1'b0}};
            cw      <= {CCW{1'b0}};
            cw_l    <= CWL_0;
            kx_l    <= KXL_0;
            ky_l    <= KYL_0;
            ox_l    <= OXL_0;
            oy_l    <= OYL_0;
            ck_l    <= (DEPTHWISE != 0) ? (KXL_0 && KYL_0) : (CWL_0 && KXL_0);
            wl      <= CWL_0 && KXL_0 && KYL_0;
            iy      <= Y_0;
            ix      <= X_0;
            pad     <= PAD_0;
            raddr   <= A_0;
            da      <= N_DA0;
            db      <= N_NR0;
            nrel0   <= N_NR0;
            rnz0    <= Z0_0;
            nrel1   <= N_NR1;
            rnz1    <= Z1_0;
            h1      <= H_H1;
            h2      <= H_H2;
            l1      <= L1_0;
            l2      <= L2_0;
            qy      <= QY_0;
            qx      <= QX_0;
            qr      <= H_RR0;
            qc      <= H_CC0;
            r_valid <= 1'b0;
            q_cnt   <= 2'd0;
        end else begin
            if (wr) begin
                wr_ptr <= (wr_ptr == WP_LAST) ? {AW{1'b0}} : wr_ptr + WP_ONE;
            end
            occ  <= wadv ? oc_rel[OCW:1] : oc_hold[OCW:1];
            full <= full_nx;
            da   <= issue ? da_iss[DW:1] : da_hold[DW:1];
            db   <= wadv ? db_adv[DW:1] : db_hold[DW:1];
            if (issue) begin
                cw_l  <= cw_l_nx;
                kx_l  <= kx_l_nx;
                ky_l  <= ky_l_nx;
                ox_l  <= ox_l_nx;
                oy_l  <= oy_l_nx;
                ck_l  <= ck_l_nx;
                wl    <= cw_l_nx && kx_l_nx && ky_l_nx;
                iy    <= iy_nx;
                ix    <= ix_nx;
                pad   <= pad_nx;
                raddr <= ra_next;
                // each digit steps (or wraps) when the digits inside it are last
                if (cw_st) begin
                    cw <= cw_l ? {CCW{1'b0}} : cw + CW_ONE;
                end
                if (kx_st) begin
                    kx <= kx_l ? {KXW{1'b0}} : kx + KX_ONE;
                end
                if (ky_st) begin
                    ky <= ky_l ? {KYW{1'b0}} : ky + KY_ONE;
                end
                if (wl) begin
                    if (ox_l) begin
                        ox <= {OXW{1'b0}};
                        oy <= oy_l ? {OYW{1'b0}} : oy + OY_ONE;
                    end else begin
                        ox <= ox + OX_ONE;
                    end
                end
            end
            if (wadv) begin
                nrel0 <= nrel1;
                rnz0  <= rnz1;
                nrel1 <= nrel_n;
                rnz1  <= (held2 != h2);
                h1    <= h2;
                l1    <= l2;
                h2    <= h_new;
                l2    <= q_is0;
                if (qx == OX_LAST) begin
                    qx <= {OXW{1'b0}};
                    qc <= {HW{1'b0}};
                    if (qy == OY_LAST) begin
                        qy <= {OYW{1'b0}};
                        qr <= {HW{1'b0}};
                    end else begin
                        qy <= qy + OY_ONE;
                        qr <= qr_nx;
                    end
                end else begin
                    qx <= qx + OX_ONE;
                    qc <= qc_nx;
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

// bnn_dwc.v -- AXI-Stream data-width converter IN_BITS -> OUT_BITS.
//
// The stream is treated as a continuous LSB-first bit stream: bit j of input
// word i is stream bit i*IN_BITS + j, and output word o carries stream bits
// [o*OUT_BITS, (o+1)*OUT_BITS). Packed elements therefore keep their order
// (element i of a word at bits [i*b, (i+1)*b)) as long as no element
// straddles a word boundary, which holds when the element width divides both
// IN_BITS and OUT_BITS.
//
// Frame ends: there is no flush and no padding. Bits left over at the end of
// a frame are the first bits of the next output word. The generator must
// therefore make the bits per frame a multiple of lcm(IN_BITS, OUT_BITS) if
// output words are not to straddle frames (it then also drains completely).
//
// Four implementations, chosen from the parameters (all have m_axis_tdata
// and m_axis_tvalid driven by registers, and s_axis_tready a function of
// registers only, except the pass-through):
//
// (1) IN_BITS == OUT_BITS: pure wires, m = s, zero latency.
//
// (2) Up-sizer, OUT_BITS = K*IN_BITS, K >= 2. Registers: cnt (R) in [0,K),
//     asm (K-1 input words), o_valid (R), o_data.
//       s_axis_tready = !(cnt == K-1 && o_valid)
//       push: cnt < K-1 -> asm slot cnt <= s_axis_tdata, cnt++
//             cnt == K-1 -> o_data <= {s_axis_tdata, asm}, o_valid <= 1, cnt <= 0
//       else if (m_axis_tvalid && m_axis_tready) o_valid <= 0
//     Accepts one input word per cycle; the output word is valid the cycle
//     after its last input word was accepted.
//
// (3) Down-sizer, IN_BITS = K*OUT_BITS, K >= 2. Registers: sh (one input
//     word), r (R) in [0,K] = output words left in sh, in_valid (R), in_data.
//       m_axis_tvalid = (r != 0), m_axis_tdata = sh[OUT_BITS-1:0]
//       s_axis_tready = !in_valid
//       pop = m_axis_tvalid && m_axis_tready; free = (r == 0) || (r == 1 && pop)
//       if free && in_valid:      sh <= in_data, r <= K, in_valid <= 0
//       else if free && push:     sh <= s_axis_tdata, r <= K
//       else: if pop: sh <= sh >> OUT_BITS, r <= r-1;
//             if push: in_data <= s_axis_tdata, in_valid <= 1
//     Emits one output word per cycle; a word accepted at cycle t into an
//     idle converter is on m_axis from cycle t+1.
//
// (4) General ratio (neither divides the other), g = gcd(IN_BITS, OUT_BITS),
//     bit buffer of BW = IN_BITS + OUT_BITS + max(IN_BITS, OUT_BITS) - g bits.
//     Registers: buf (R, zero above n), n (R) = valid bits in buf.
//       m_axis_tvalid = (n >= OUT_BITS), m_axis_tdata = buf[OUT_BITS-1:0]
//       s_axis_tready = (n <= BW - IN_BITS)
//       n1 = n - (pop ? OUT_BITS : 0); buf1 = pop ? buf >> OUT_BITS : buf
//       buf <= buf1 | (push ? s_axis_tdata << n1 : 0); n <= n1 + (push ? IN_BITS : 0)
//     BW is large enough that the narrower side runs at one word per cycle
//     when the other side never stalls (checked by tests/hw_modules.rs).
//     A word accepted at cycle t is on m_axis from cycle t+1 if it completes
//     an output word.
//
// Parameter checking: see bnn_rom.v (missing `ERROR_...` module).
`default_nettype none

module bnn_dwc #(
    parameter integer IN_BITS  = 8,   // input word width in bits (>= 1)
    parameter integer OUT_BITS = 32   // output word width in bits (>= 1)
) (
    input  wire                ap_clk,         // clock
    input  wire                ap_rst_n,       // synchronous reset, active low
    input  wire [IN_BITS-1:0]  s_axis_tdata,   // input stream
    input  wire                s_axis_tvalid,
    output wire                s_axis_tready,
    output wire [OUT_BITS-1:0] m_axis_tdata,   // output stream
    output wire                m_axis_tvalid,
    input  wire                m_axis_tready
);

    generate
        if (IN_BITS < 1 || OUT_BITS < 1) begin : g_err_w
            ERROR_bnn_dwc_widths_must_be_at_least_1 u_err ();
        end
    endgenerate

    // greatest common divisor, evaluated at elaboration time
    function integer gcd_f;
        input integer a;
        input integer b;
        integer x, y, t;
        begin
            x = a;
            y = b;
            while (y != 0) begin
                t = x % y;
                x = y;
                y = t;
            end
            gcd_f = x;
        end
    endfunction

    localparam integer G = gcd_f(IN_BITS, OUT_BITS);

    wire pop = m_axis_tvalid && m_axis_tready;
    wire push = s_axis_tvalid && s_axis_tready;

    generate
        if (IN_BITS == OUT_BITS) begin : g_pass
            // ---------------------------------------------------------- (1)
            assign m_axis_tdata  = s_axis_tdata;
            assign m_axis_tvalid = s_axis_tvalid;
            assign s_axis_tready = m_axis_tready;
            wire unused_pass = &{1'b0, ap_clk, ap_rst_n, pop, push};
        end else if (OUT_BITS % IN_BITS == 0) begin : g_up
            // ---------------------------------------------------------- (2)
            localparam integer K    = OUT_BITS / IN_BITS;
            localparam integer CNTW = $clog2(K);          // K >= 2
            localparam integer KM1  = K - 1;
            localparam [CNTW-1:0] C_LAST = KM1[CNTW-1:0];
            localparam [CNTW-1:0] C_ONE  = 1;
            reg [CNTW-1:0]             cnt;
            reg [OUT_BITS-IN_BITS-1:0] asm;
            reg                        o_valid;
            reg [OUT_BITS-1:0]         o_data;
            wire at_last = (cnt == C_LAST);
            assign s_axis_tready = !(at_last && o_valid);
            assign m_axis_tvalid = o_valid;
            assign m_axis_tdata  = o_data;
            always @(posedge ap_clk) begin
                if (!ap_rst_n) begin
                    cnt     <= {CNTW{1'b0}};
                    o_valid <= 1'b0;
                end else begin
                    if (push) begin
                        cnt <= at_last ? {CNTW{1'b0}} : cnt + C_ONE;
                    end
                    if (push && at_last) begin
                        o_valid <= 1'b1;
                    end else if (pop) begin
                        o_valid <= 1'b0;
                    end
                end
            end
            always @(posedge ap_clk) begin
                if (push && at_last) begin
                    o_data <= {s_axis_tdata, asm};
                end
            end
            genvar k;
            for (k = 0; k < K - 1; k = k + 1) begin : g_slot
                localparam [CNTW-1:0] SLOT = k;
                always @(posedge ap_clk) begin
                    if (push && cnt == SLOT) begin
                        asm[k*IN_BITS +: IN_BITS] <= s_axis_tdata;
                    end
                end
            end
        end else if (IN_BITS % OUT_BITS == 0) begin : g_down
            // ---------------------------------------------------------- (3)
            localparam integer K  = IN_BITS / OUT_BITS;
            localparam integer RW = $clog2(K + 1);
            localparam [RW-1:0] R_FULL = K[RW-1:0];
            localparam [RW-1:0] R_ONE  = 1;
            reg [IN_BITS-1:0] sh;
            reg [RW-1:0]      r;
            reg               in_valid;
            reg [IN_BITS-1:0] in_data;
            wire free = (r == {RW{1'b0}}) || (r == R_ONE && pop);
            assign s_axis_tready = !in_valid;
            assign m_axis_tvalid = (r != {RW{1'b0}});
            assign m_axis_tdata  = sh[OUT_BITS-1:0];
            always @(posedge ap_clk) begin
                if (!ap_rst_n) begin
                    r        <= {RW{1'b0}};
                    in_valid <= 1'b0;
                end else if (free && in_valid) begin
                    r        <= R_FULL;
                    in_valid <= 1'b0;
                end else if (free && push) begin
                    r <= R_FULL;
                end else begin
                    if (pop) begin
                        r <= r - R_ONE;
                    end
                    if (push) begin
                        in_valid <= 1'b1;
                    end
                end
            end
            always @(posedge ap_clk) begin
                if (free && in_valid) begin
                    sh <= in_data;
                end else if (free && push) begin
                    sh <= s_axis_tdata;
                end else begin
                    if (pop) begin
                        sh <= {{OUT_BITS{1'b0}}, sh[IN_BITS-1:OUT_BITS]};
                    end
                    if (push) begin
                        in_data <= s_axis_tdata;
                    end
                end
            end
        end else begin : g_gen
            // ---------------------------------------------------------- (4)
            localparam integer MX   = (IN_BITS > OUT_BITS) ? IN_BITS : OUT_BITS;
            localparam integer BW   = IN_BITS + OUT_BITS + MX - G;
            localparam integer BWU  = BW / G;            // buffer size in g-bit units
            localparam integer INU  = IN_BITS / G;
            localparam integer OUTU = OUT_BITS / G;
            localparam integer NW   = $clog2(BWU + 1);   // unit-count width
            localparam integer SH_STAGES = $clog2(BWU - INU + 1);  // shift amounts 0..BWU-INU
            localparam integer RDY_I = BWU - INU;
            localparam [NW-1:0] N_OUT = OUTU[NW-1:0];
            localparam [NW-1:0] N_IN  = INU[NW-1:0];
            localparam [NW-1:0] N_RDY = RDY_I[NW-1:0];
            reg  [BW-1:0] buf_q;
            reg  [NW-1:0] n;            // valid bits in buf_q, in units of G bits
            wire [NW-1:0] n1 = pop ? n - N_OUT : n;
            wire [BW-1:0] buf1 = pop ? {{OUT_BITS{1'b0}}, buf_q[BW-1:OUT_BITS]} : buf_q;
            reg  [BW-1:0] ins;          // s_axis_tdata shifted to bit n1*G
            integer s;
            always @* begin
                ins = {{(BW-IN_BITS){1'b0}}, s_axis_tdata};
                for (s = 0; s < SH_STAGES; s = s + 1) begin
                    if (n1[s]) begin
                        ins = ins << ((1 << s) * G);
                    end
                end
            end
            assign s_axis_tready = (n <= N_RDY);
            assign m_axis_tvalid = (n >= N_OUT);
            assign m_axis_tdata  = buf_q[OUT_BITS-1:0];
            if (SH_STAGES < NW) begin : g_unused
                // n1 never exceeds BWU-INU when it is used for a shift
                wire unused_n1_high = &{1'b0, n1[NW-1:SH_STAGES]};
            end
            always @(posedge ap_clk) begin
                if (!ap_rst_n) begin
                    buf_q <= {BW{1'b0}};
                    n     <= {NW{1'b0}};
                end else begin
                    buf_q <= push ? (buf1 | ins) : buf1;
                    n     <= push ? n1 + N_IN : n1;
                end
            end
        end
    endgenerate

endmodule

`default_nettype wire

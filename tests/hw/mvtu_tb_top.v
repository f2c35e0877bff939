// mvtu_tb_top.v -- test wrapper used by tests/hw_modules.rs: one bnn_mvtu
// (DEPTHWISE = 0) or bnn_vvau (DEPTHWISE = 1, the depthwise unit, whose input
// word holds PE channels x SIMD kernel positions)
// plus one weight bnn_rom and one threshold bnn_rom per PE, loaded from
// MEM_DIR/wNNN.mem and MEM_DIR/tNNN.mem (NNN = PE index, 3 decimal digits).
// This is what the generator's per-layer wrappers do, with the file names
// written out literally there. The MVTU (v2) reads both ROMs at every edge
// (wmem_en = tmem_en = 1); threshold words hold {dir, T'[NSTEPS-1..0]} with
// T' = T (dir = 0) or T + 1 (dir = 1), docs/mvtu-spec.md section 5.
`default_nettype none

module mvtu_tb_top #(
    parameter integer MW         = 16,  // see bnn_mvtu
    parameter integer MH         = 8,   // see bnn_mvtu
    parameter integer PE         = 2,   // see bnn_mvtu
    parameter integer SIMD       = 4,   // see bnn_mvtu
    parameter integer WBITS      = 1,   // see bnn_mvtu
    parameter integer IBITS      = 1,   // see bnn_mvtu
    parameter integer WTYPE      = 0,   // see bnn_mvtu
    parameter integer ITYPE      = 0,   // see bnn_mvtu
    parameter integer ACC_BITS   = 6,   // see bnn_mvtu
    parameter integer NSTEPS     = 1,   // see bnn_mvtu
    parameter integer OBITS      = 1,   // see bnn_mvtu
    parameter integer TBITS      = 6,   // see bnn_mvtu
    parameter integer OUT_BIAS   = 0,   // see bnn_mvtu
    parameter integer XNOR_FANIN = 16,  // see bnn_mvtu
    parameter integer DEPTHWISE  = 0,   // 1: bnn_vvau
    parameter         MEM_DIR    = "."  // directory holding wNNN.mem / tNNN.mem
) (
    input  wire                  ap_clk,         // clock
    input  wire                  ap_rst_n,       // synchronous reset, active low
    input  wire [((DEPTHWISE == 1) ? PE : 1)*SIMD*IBITS-1:0] s_axis_tdata,  // input stream
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    output wire [PE*OBITS-1:0]   m_axis_tdata,   // output stream
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready
);

    localparam integer NF  = MH / PE;
    localparam integer SF  = MW / SIMD;
    localparam integer WAW = (NF * SF > 1) ? $clog2(NF * SF) : 1;
    localparam integer TAW = (NF > 1) ? $clog2(NF) : 1;
    localparam integer WW  = SIMD * WBITS;
    localparam integer TW  = NSTEPS * TBITS + 1;

    wire                wmem_en;
    localparam integer PE_GROUP = 3;  // not a divisor of every PE tested: a partial last group
    localparam integer G   = (PE + PE_GROUP - 1) / PE_GROUP;
    wire [G*WAW-1:0]    wmem_addr;
    wire [PE*WW-1:0]    wmem_rdata;
    wire                tmem_en;
    wire [TAW-1:0]      tmem_addr;
    wire [PE*TW-1:0]    tmem_rdata;

    generate
        if (DEPTHWISE == 1) begin : g_vvau
            bnn_vvau #(
                .MW(MW), .MH(MH), .PE(PE), .SIMD(SIMD), .WBITS(WBITS), .IBITS(IBITS),
                .WTYPE(WTYPE), .ITYPE(ITYPE), .ACC_BITS(ACC_BITS), .NSTEPS(NSTEPS),
                .OBITS(OBITS), .TBITS(TBITS), .OUT_BIAS(OUT_BIAS), .XNOR_FANIN(XNOR_FANIN),
                .PE_GROUP(PE_GROUP)
            ) u_vvau (
                .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
                .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
                .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
                .wmem_en(wmem_en), .wmem_addr(wmem_addr), .wmem_rdata(wmem_rdata),
                .tmem_en(tmem_en), .tmem_addr(tmem_addr), .tmem_rdata(tmem_rdata)
            );
        end else begin : g_mvtu
            bnn_mvtu #(
                .MW(MW), .MH(MH), .PE(PE), .SIMD(SIMD), .WBITS(WBITS), .IBITS(IBITS),
                .WTYPE(WTYPE), .ITYPE(ITYPE), .ACC_BITS(ACC_BITS), .NSTEPS(NSTEPS),
                .OBITS(OBITS), .TBITS(TBITS), .OUT_BIAS(OUT_BIAS), .XNOR_FANIN(XNOR_FANIN),
                .PE_GROUP(PE_GROUP)
            ) u_mvtu (
                .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
                .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
                .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
                .wmem_en(wmem_en), .wmem_addr(wmem_addr), .wmem_rdata(wmem_rdata),
                .tmem_en(tmem_en), .tmem_addr(tmem_addr), .tmem_rdata(tmem_rdata)
            );
        end
    endgenerate

    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            localparam integer D2 = 48 + (p / 100) % 10;
            localparam integer D1 = 48 + (p / 10) % 10;
            localparam integer D0 = 48 + p % 10;
            localparam [23:0] DIGITS = {D2[7:0], D1[7:0], D0[7:0]};
            bnn_rom #(
                .WIDTH(WW), .DEPTH(NF * SF), .INIT_FILE({MEM_DIR, "/w", DIGITS, ".mem"})
            ) u_wrom (
                .ap_clk(ap_clk), .en(wmem_en), .addr(wmem_addr[(p / PE_GROUP)*WAW +: WAW]),
                .rdata(wmem_rdata[p*WW +: WW])
            );
            if (NSTEPS > 0) begin : g_t
                bnn_rom #(
                    .WIDTH(TW), .DEPTH(NF), .INIT_FILE({MEM_DIR, "/t", DIGITS, ".mem"})
                ) u_trom (
                    .ap_clk(ap_clk), .en(tmem_en), .addr(tmem_addr),
                    .rdata(tmem_rdata[p*TW +: TW])
                );
            end else begin : g_not
                assign tmem_rdata[p*TW +: TW] = {TW{1'b0}};
            end
        end
        if (NSTEPS == 0) begin : g_unused
            wire unused_tmem = &{1'b0, tmem_en, tmem_addr};
        end
    endgenerate

endmodule

`default_nettype wire

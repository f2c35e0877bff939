// bnn_fifo.v -- AXI-Stream FIFO with registered outputs and full throughput.
//
// Capacity: exactly DEPTH words (DEPTH >= 2): a memory of DEPTH-1 words
// (sync read, maps to LUTRAM or block RAM) plus the output register that
// drives m_axis_tdata/m_axis_tvalid.
//
// Timing (cycle exact; registers: mem, wp, rp, mcnt (R), o_valid (R), o_data):
//   s_axis_tready = (mcnt != DEPTH-1)              -- registers only
//   m_axis_tvalid = o_valid, m_axis_tdata = o_data -- registers
//   push = s_axis_tvalid && s_axis_tready
//   load = (!o_valid || m_axis_tready) && (mcnt != 0 || push)
//   at the rising edge:
//     if push: mem[wp] <= s_axis_tdata, wp++ (mod DEPTH-1)
//     if load: o_data <= (mcnt == 0) ? s_axis_tdata : mem[rp], rp++ (mod DEPTH-1),
//              o_valid <= 1
//     else if m_axis_tready: o_valid <= 0
//     mcnt <= mcnt + push - load
// A word accepted at cycle t into an empty FIFO is on m_axis from cycle t+1
// (latency 1). With a ready consumer one word passes per cycle. mcnt counts
// the words held in the memory (not the output register), so the FIFO holds
// mcnt + o_valid <= DEPTH words. s_axis_tready never depends on
// m_axis_tready in the same cycle.
//
// Parameter checking: see bnn_rom.v (missing `ERROR_...` module).
`default_nettype none

module bnn_fifo #(
    parameter integer WIDTH = 8,   // data width in bits (>= 1)
    parameter integer DEPTH = 4    // capacity in words (>= 2)
) (
    input  wire             ap_clk,         // clock
    input  wire             ap_rst_n,       // synchronous reset, active low
    input  wire [WIDTH-1:0] s_axis_tdata,   // input stream
    input  wire             s_axis_tvalid,
    output wire             s_axis_tready,
    output wire [WIDTH-1:0] m_axis_tdata,   // output stream (registered)
    output wire             m_axis_tvalid,
    input  wire             m_axis_tready
);

    generate
        if (WIDTH < 1) begin : g_err_width
            ERROR_bnn_fifo_WIDTH_must_be_at_least_1 u_err ();
        end
        if (DEPTH < 2) begin : g_err_depth
            ERROR_bnn_fifo_DEPTH_must_be_at_least_2 u_err ();
        end
    endgenerate

    localparam integer MD    = DEPTH - 1;                     // memory words
    localparam integer AW    = (MD > 1) ? $clog2(MD) : 1;     // pointer width
    localparam integer CW    = $clog2(MD + 1);                // count width (MD >= 1)
    localparam integer MD_M1 = MD - 1;
    localparam [AW-1:0] P_LAST = MD_M1[AW-1:0];
    localparam [AW-1:0] P_ONE  = 1;
    localparam [CW-1:0] C_FULL = MD[CW-1:0];
    localparam [CW-1:0] C_ONE  = 1;

    reg [WIDTH-1:0] mem [0:MD-1];
    reg [AW-1:0]    wp, rp;
    reg [CW-1:0]    mcnt;
    reg             o_valid;
    reg [WIDTH-1:0] o_data;

    wire mem_empty = (mcnt == {CW{1'b0}});
    wire push = s_axis_tvalid && s_axis_tready;
    wire load = (!o_valid || m_axis_tready) && (!mem_empty || push);

    assign s_axis_tready = (mcnt != C_FULL);
    assign m_axis_tvalid = o_valid;
    assign m_axis_tdata  = o_data;

    // memory and output register (written as a RAM with a write-first read
    // port: when the memory is empty, wp == rp and the word being written is
    // the one read, which is exactly the bypass case)
    always @(posedge ap_clk) begin
        if (push) begin
            mem[wp] <= s_axis_tdata;
        end
        if (load) begin
            o_data <= (push && (wp == rp)) ? s_axis_tdata : mem[rp];
        end
    end

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            wp      <= {AW{1'b0}};
            rp      <= {AW{1'b0}};
            mcnt    <= {CW{1'b0}};
            o_valid <= 1'b0;
        end else begin
            if (push) begin
                wp <= (wp == P_LAST) ? {AW{1'b0}} : wp + P_ONE;
            end
            if (load) begin
                rp <= (rp == P_LAST) ? {AW{1'b0}} : rp + P_ONE;
                o_valid <= 1'b1;
            end else if (m_axis_tready) begin
                o_valid <= 1'b0;
            end
            if (push && !load) begin
                mcnt <= mcnt + C_ONE;
            end else if (load && !push) begin
                mcnt <= mcnt - C_ONE;
            end
        end
    end

endmodule

`default_nettype wire

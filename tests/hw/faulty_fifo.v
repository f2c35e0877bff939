// faulty_fifo.v -- a wrong bnn_fifo for tests/axis_monitor.rs: the test renames
// the library's bnn_fifo to bnn_fifo_real and appends this wrapper, which has
// the same parameters, ports and cycle timing, and gives the right word at
// every handshake, but shows the inverted word while the consumer stalls:
// tdata changes between a stalled cycle and the handshake. Only the protocol
// monitor can see that; golden, the cycle simulator and the RTL all agree.
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
    output wire [WIDTH-1:0] m_axis_tdata,   // output stream, wrong while stalled
    output wire             m_axis_tvalid,
    input  wire             m_axis_tready
);

    wire [WIDTH-1:0] word;

    bnn_fifo_real #(.WIDTH(WIDTH), .DEPTH(DEPTH)) u_real (
        .ap_clk       (ap_clk),
        .ap_rst_n     (ap_rst_n),
        .s_axis_tdata (s_axis_tdata),
        .s_axis_tvalid(s_axis_tvalid),
        .s_axis_tready(s_axis_tready),
        .m_axis_tdata (word),
        .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready)
    );

    assign m_axis_tdata = m_axis_tready ? word : ~word;

endmodule

`default_nettype wire

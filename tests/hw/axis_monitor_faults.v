// axis_monitor_faults.v -- test fixture for hw/bnn_axis_monitor.v (tests/axis_monitor.rs).
//
// Five streams, each a small producer/consumer pair driven by the fixture's
// own cycle counter (cnt = c at edge c, the harness's numbering), each
// watched by a bnn_axis_monitor. Four pairs are wrong on purpose, each
// breaking one rule at a known point; one is correct:
//
//   link        producer / consumer                       first violation
//   tdata_bad   tvalid = 1, tdata = cnt; tready at c%4==3  tdata-changed, cycle 1
//   valid_bad   tvalid only at cycle 5; tready = 0 there   tvalid-withdrawn, cycle 6
//   reset_bad   tvalid = 1 and tready = 1, even in reset    handshake-in-reset, reset edge 2
//   x_bad       tvalid = x at cycle 3, else 0; tready = 1   x-on-tvalid-tready, cycle 3
//                                                           (four-state simulators only)
//   clean       a correct producer (holds a word until the  none
//               handshake, new word = old + 1) against
//               tready = cnt[0] ^ cnt[2]
//
// The ports pass s_axis straight to m_axis, so that the Verilator harness
// sim/axis_tb.cpp can drive the fixture (the words are irrelevant).
`default_nettype none

module axis_monitor_faults (
    input  wire       ap_clk,         // clock
    input  wire       ap_rst_n,       // synchronous reset, active low
    input  wire [7:0] s_axis_tdata,   // passed to m_axis
    input  wire       s_axis_tvalid,
    output wire       s_axis_tready,
    output wire [7:0] m_axis_tdata,
    output wire       m_axis_tvalid,
    input  wire       m_axis_tready
);

    assign m_axis_tdata  = s_axis_tdata;
    assign m_axis_tvalid = s_axis_tvalid;
    assign s_axis_tready = m_axis_tready;

    reg [7:0] cnt;  // cycle number (saturates at 255)
    always @(posedge ap_clk) begin
        if (!ap_rst_n) cnt <= 8'd0;
        else if (cnt != 8'hFF) cnt <= cnt + 8'd1;
    end

    // tdata_bad: the data moves on while the consumer stalls.
    wire [7:0] tdata_bad_tdata  = cnt;
    wire       tdata_bad_tvalid = ap_rst_n;
    wire       tdata_bad_tready = (cnt[1:0] == 2'd3);

    // valid_bad: a one-cycle pulse that nobody accepted.
    wire [7:0] valid_bad_tdata  = 8'h5A;
    wire       valid_bad_tvalid = (cnt == 8'd5) && ap_rst_n;
    wire       valid_bad_tready = (cnt != 8'd5);

    // reset_bad: neither side looks at the reset.
    wire [7:0] reset_bad_tdata  = 8'h00;
    wire       reset_bad_tvalid = 1'b1;
    wire       reset_bad_tready = 1'b1;

    // x_bad: an undefined tvalid for one cycle.
    wire [7:0] x_bad_tdata  = 8'h00;
    wire       x_bad_tvalid = (cnt == 8'd3) ? 1'bx : 1'b0;
    wire       x_bad_tready = 1'b1;

    // clean: a correct producer.
    reg  [7:0] clean_word;
    reg        clean_valid;
    wire       clean_tready = cnt[0] ^ cnt[2];
    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            clean_word  <= 8'd0;
            clean_valid <= 1'b0;
        end else if (!clean_valid || clean_tready) begin
            clean_word  <= clean_word + {7'd0, clean_valid};
            clean_valid <= cnt[1];
        end
    end

    bnn_axis_monitor #(.WIDTH(8), .LINK("tdata_bad (fixture -> fixture)")) u_mon_tdata_bad (
        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
        .tdata(tdata_bad_tdata), .tvalid(tdata_bad_tvalid), .tready(tdata_bad_tready)
    );
    bnn_axis_monitor #(.WIDTH(8), .LINK("valid_bad (fixture -> fixture)")) u_mon_valid_bad (
        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
        .tdata(valid_bad_tdata), .tvalid(valid_bad_tvalid), .tready(valid_bad_tready)
    );
    bnn_axis_monitor #(.WIDTH(8), .LINK("reset_bad (fixture -> fixture)")) u_mon_reset_bad (
        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
        .tdata(reset_bad_tdata), .tvalid(reset_bad_tvalid), .tready(reset_bad_tready)
    );
    bnn_axis_monitor #(.WIDTH(8), .LINK("x_bad (fixture -> fixture)")) u_mon_x_bad (
        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
        .tdata(x_bad_tdata), .tvalid(x_bad_tvalid), .tready(x_bad_tready)
    );
    bnn_axis_monitor #(.WIDTH(8), .LINK("clean (fixture -> fixture)")) u_mon_clean (
        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
        .tdata(clean_word), .tvalid(clean_valid), .tready(clean_tready)
    );

endmodule

`default_nettype wire

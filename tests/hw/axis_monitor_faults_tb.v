// axis_monitor_faults_tb.v -- Icarus testbench of tests/hw/axis_monitor_faults.v
// (tests/axis_monitor.rs): reset for 4 rising edges, then 20 cycles, with the
// harness's cycle numbering (cycle 0 = the first edge after reset).
`default_nettype none

module axis_monitor_faults_tb;

    reg ap_clk   = 1'b0;
    reg ap_rst_n = 1'b0;

    wire       unused_s_axis_tready;
    wire [7:0] unused_m_axis_tdata;
    wire       unused_m_axis_tvalid;

    axis_monitor_faults dut (
        .ap_clk       (ap_clk),
        .ap_rst_n     (ap_rst_n),
        .s_axis_tdata (8'd0),
        .s_axis_tvalid(1'b0),
        .s_axis_tready(unused_s_axis_tready),
        .m_axis_tdata (unused_m_axis_tdata),
        .m_axis_tvalid(unused_m_axis_tvalid),
        .m_axis_tready(1'b1)
    );

    initial begin
        // inputs change at falling edges only: no race with the rising edge
        repeat (4) begin
            #5 ap_clk = 1'b1;
            #5 ap_clk = 1'b0;
        end
        ap_rst_n = 1'b1;
        repeat (20) begin
            #5 ap_clk = 1'b1;
            #5 ap_clk = 1'b0;
        end
        $display("cycles: 20");
        $finish;
    end

endmodule

`default_nettype wire

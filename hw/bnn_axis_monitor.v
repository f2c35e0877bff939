// bnn_axis_monitor.v -- simulation-only AXI-Stream protocol checker for one link.
//
// Not synthesizable on purpose ($display, initial): the generated top
// instantiates one per link only under `ifdef BNN_AXIS_MONITOR, which the
// simulation file list bnn_gen_sim.f defines (bnn_gen.f and the synthesis
// scripts never read this file). It only observes: no outputs.
//
// Cycle numbering (sim/README.md): cycle 0 is the first rising edge at which
// ap_rst_n = 1 after reset; cycle c is the (c+1)-th. The monitor counts the
// edges itself (cycle <= 0 at every reset edge), so its cycle numbers are the
// harness's. "stalled at c" = tvalid && !tready sampled at edge c.
//
// Rules (cycle exact), checked at every rising edge; a violation prints one
// line, fields separated by single spaces, with the fixed prefix that
// bnn-gen verify parses (src/verify/monitor.rs):
//   BNN_AXIS_VIOLATION rule=<rule> link=<LINK> cycle=<c> <detail>
//   BNN_AXIS_VIOLATION rule=<rule> link=<LINK> reset_edge=<k> <detail>
//
//   tvalid-withdrawn      at edge c (ap_rst_n = 1): stalled at c-1 (also
//                         out of reset) and tvalid = 0 at c.
//   tdata-changed         at edge c: stalled at c-1 and tvalid = 1 at c, but
//                         tdata at c !== tdata at c-1 (every bit, also
//                         padding bits of a port; X/Z count as a change).
//   x-on-tvalid-tready    at edge c: tvalid or tready is X or Z. Only a
//                         four-state simulator (Icarus) can see this; the
//                         two-state Verilator never holds X, so there the
//                         test is always false.
//   handshake-in-reset    at reset edge k >= 2 (ap_rst_n = 0 at this edge
//                         and at the one before): tvalid && tready. Edge 1
//                         is exempt: the registers that drive tvalid have
//                         not seen reset yet (power-up values).
//   The reset edges of one reset are numbered 1, 2, ... (reset_edge=<k>).
// At most MAX_REPORTS violations per link are printed; the next one prints
//   BNN_AXIS_VIOLATION rule=suppressed link=<LINK> cycle=<c> ...
// once, and later ones are counted silently.
//
// At time 0 every monitor prints
//   BNN_AXIS_MONITOR link=<LINK> width=<WIDTH>
// so that the harness can tell that the monitors were compiled in.
//
// Parameter checking: see bnn_rom.v (missing `ERROR_...` module).
`default_nettype none

module bnn_axis_monitor #(
    parameter integer WIDTH       = 8,       // tdata bits (>= 1)
    parameter         LINK        = "link",  // the link's name in messages (a string)
    parameter integer MAX_REPORTS = 8        // violations printed per link (>= 1)
) (
    input wire             ap_clk,    // clock
    input wire             ap_rst_n,  // synchronous reset, active low
    input wire [WIDTH-1:0] tdata,     // the observed link
    input wire             tvalid,
    input wire             tready
);

    generate
        if (WIDTH < 1) begin : g_err_width
            ERROR_bnn_axis_monitor_WIDTH_must_be_at_least_1 u_err ();
        end
        if (MAX_REPORTS < 1) begin : g_err_reports
            ERROR_bnn_axis_monitor_MAX_REPORTS_must_be_at_least_1 u_err ();
        end
    endgenerate

    reg [63:0]      cycle;        // this edge's cycle number (valid out of reset)
    reg [31:0]      reset_edge;   // this edge's number within the current reset
    reg             was_reset;    // the previous edge was a reset edge
    reg             was_stalled;  // tvalid && !tready at the previous edge (out of reset)
    reg [WIDTH-1:0] held;         // tdata at the previous edge
    reg [31:0]      violations;   // violations seen on this link

    // Power-up state: a two-state simulator with randomized initial values
    // must not report the first reset edge.
    initial begin
        cycle       = 64'd0;
        reset_edge  = 32'd1;
        was_reset   = 1'b0;
        was_stalled = 1'b0;
        held        = {WIDTH{1'b0}};
        violations  = 32'd0;
        $display("BNN_AXIS_MONITOR link=%0s width=%0d", LINK, WIDTH);
    end

    wire in_reset  = (ap_rst_n !== 1'b1);
    wire valid_x   = (tvalid !== 1'b0) && (tvalid !== 1'b1);
    wire ready_x   = (tready !== 1'b0) && (tready !== 1'b1);
    wire handshake = (tvalid === 1'b1) && (tready === 1'b1);

    // One rule per edge at most, in this order of precedence.
    wire v_reset     = in_reset && was_reset && handshake;
    wire v_x         = !in_reset && (valid_x || ready_x);
    wire v_withdrawn = !in_reset && !v_x && was_stalled && !tvalid;
    wire v_tdata     = !in_reset && !v_x && was_stalled && tvalid && (tdata !== held);
    wire violation   = v_reset || v_x || v_withdrawn || v_tdata;
    wire print       = violation && (violations < MAX_REPORTS);
    wire print_last  = violation && (violations == MAX_REPORTS);

    always @(posedge ap_clk) begin
        if (print && v_reset)
            $display("BNN_AXIS_VIOLATION rule=handshake-in-reset link=%0s reset_edge=%0d tvalid && tready while ap_rst_n = 0",
                     LINK, reset_edge);
        if (print && v_x)
            $display("BNN_AXIS_VIOLATION rule=x-on-tvalid-tready link=%0s cycle=%0d tvalid = %b, tready = %b after reset",
                     LINK, cycle, tvalid, tready);
        if (print && v_withdrawn)
            $display("BNN_AXIS_VIOLATION rule=tvalid-withdrawn link=%0s cycle=%0d tvalid fell to 0 before a handshake (tvalid && !tready at cycle %0d)",
                     LINK, cycle, cycle - 64'd1);
        if (print && v_tdata)
            $display("BNN_AXIS_VIOLATION rule=tdata-changed link=%0s cycle=%0d tdata %h at cycle %0d (tvalid && !tready) became %h before a handshake",
                     LINK, cycle, held, cycle - 64'd1, tdata);
        if (print_last)
            $display("BNN_AXIS_VIOLATION rule=suppressed link=%0s cycle=%0d further violations on this link are not printed",
                     LINK, cycle);
        if (violation)
            violations <= violations + 32'd1;
        if (in_reset) begin
            cycle       <= 64'd0;
            reset_edge  <= reset_edge + 32'd1;
            was_reset   <= 1'b1;
            was_stalled <= 1'b0;
        end else begin
            cycle       <= cycle + 64'd1;
            reset_edge  <= 32'd1;
            was_reset   <= 1'b0;
            was_stalled <= (tvalid === 1'b1) && (tready === 1'b0);
        end
        held <= tdata;
    end

endmodule

`default_nettype wire

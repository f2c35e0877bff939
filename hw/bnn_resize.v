// bnn_resize.v -- combinational width adaptation of a two's complement or
// unsigned number: sign-/zero-extension when OUT_W > IN_W, truncation to the
// low OUT_W bits when OUT_W < IN_W (i.e. the value modulo 2^OUT_W), a plain
// copy when equal.
//
// It exists so that every other module stays `verilator -Wall` clean without
// waivers: truncated-away bits are collected in a signal whose name matches
// the default --unused-regexp of Verilator ("*unused*"), the documented
// convention for intentionally unused bits (this is not a lint pragma).
// Parameter checking: see bnn_rom.v (missing `ERROR_...` module).
`default_nettype none

module bnn_resize #(
    parameter integer IN_W   = 8,   // input width in bits (>= 1)
    parameter integer OUT_W  = 16,  // output width in bits (>= 1)
    parameter integer SIGNED = 1    // 1: sign-extend, 0: zero-extend (only matters when OUT_W > IN_W)
) (
    input  wire [IN_W-1:0]  din,    // input value
    output wire [OUT_W-1:0] dout    // resized value
);

    generate
        if (IN_W < 1 || OUT_W < 1) begin : g_err_w
            ERROR_bnn_resize_widths_must_be_at_least_1 u_err ();
        end
        if (OUT_W > IN_W) begin : g_ext
            wire ext_bit = (SIGNED != 0) ? din[IN_W-1] : 1'b0;
            assign dout = {{(OUT_W-IN_W){ext_bit}}, din};
        end else if (OUT_W < IN_W) begin : g_trunc
            assign dout = din[OUT_W-1:0];
            // bits dropped on purpose (value taken modulo 2^OUT_W)
            wire unused_high_bits = &{1'b0, din[IN_W-1:OUT_W]};
        end else begin : g_copy
            assign dout = din;
        end
    endgenerate

endmodule

`default_nettype wire

// bnn_topk_merge.v -- the best K entries of two sorted lists (combinational;
// one merge of bnn_topk's tournament).
//
// Entries are {ok, idx, value} (W = 1 + IW + EB bits), entry 0 best, empty
// entries (ok = 0) last. Every index in A is lower than every index in B, so
// a_i goes before b_j iff a_i is valid and (b_j is empty or a_i >= b_j):
// ties go to the lower index. Because both lists are sorted, a_first[i][j] is
// a thermometer code along j (0..0 1..1) and along i (1..1 0..0), and the
// output position of a_i is i + (number of b_j before it), that of b_j is
// j + (number of a_i before it); y[p] is the one entry whose position is p.
// Cost: K*K comparators and K*K two-input selects per output entry.
`default_nettype none

module bnn_topk_merge #(
    parameter integer K      = 1,
    parameter integer EB     = 8,
    parameter integer IW     = 4,
    parameter integer SIGNED = 1
) (
    input  wire [K*(1+IW+EB)-1:0] a,
    input  wire [K*(1+IW+EB)-1:0] b,
    output wire [K*(1+IW+EB)-1:0] y
);

    localparam integer W = 1 + IW + EB;

    wire [K*K-1:0] a_first;  // a_first[i*K + j]: a_i goes before b_j
    wire [K*K-1:0] at_a, at_b;
    genvar i, j, p;
    generate
        for (i = 0; i < K; i = i + 1) begin : g_a
            for (j = 0; j < K; j = j + 1) begin : g_b
                wire [EB-1:0] va  = a[i*W +: EB];
                wire [EB-1:0] vb  = b[j*W +: EB];
                wire          aok = a[i*W + W - 1];
                wire          bok = b[j*W + W - 1];
                wire          ge  = (SIGNED != 0) ? ($signed(va) >= $signed(vb)) : (va >= vb);
                assign a_first[i*K + j] = aok ? (!bok || ge) : !bok;
            end
        end

        // at_a[p*K + i]: a_i goes to position p (exactly p-i entries of B
        // before it); at_b[p*K + j]: b_j goes to position p
        for (p = 0; p < K; p = p + 1) begin : g_pos
            for (i = 0; i < K; i = i + 1) begin : g_cand
                localparam integer T = p - i;
                if (T < 0) begin : g_never
                    assign at_a[p*K + i] = 1'b0;
                    assign at_b[p*K + i] = 1'b0;
                end else if (T == 0) begin : g_t0
                    assign at_a[p*K + i] = a_first[i*K];
                    assign at_b[p*K + i] = !a_first[i];
                end else begin : g_tn
                    assign at_a[p*K + i] = !a_first[i*K + T - 1] && a_first[i*K + T];
                    assign at_b[p*K + i] = a_first[(T-1)*K + i] && !a_first[T*K + i];
                end
            end
        end
    endgenerate

    // y[p]: the one entry whose position is p (all zeros = empty if none)
    reg [K*W-1:0] y_r;
    integer yp, yi;
    always @* begin
        y_r = {K*W{1'b0}};
        for (yp = 0; yp < K; yp = yp + 1) begin
            for (yi = 0; yi < K; yi = yi + 1) begin
                if (at_a[yp*K + yi]) y_r[yp*W +: W] = y_r[yp*W +: W] | a[yi*W +: W];
                if (at_b[yp*K + yi]) y_r[yp*W +: W] = y_r[yp*W +: W] | b[yi*W +: W];
            end
        end
    end
    assign y = y_r;

endmodule

`default_nettype wire

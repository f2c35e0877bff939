{% for line in header -%}
//{% if !line.is_empty() %} {{ line }}{% endif %}
{% endfor -%}
`default_nettype none

{% if !wlogic.is_empty() -%}
// Weights as logic: `bnn-gen build --synth` flattens this module (yosys `flatten
// A:bnn_weights_as_logic`) so that the constants reach the MVTU's datapath.
(* bnn_weights_as_logic = 1 *)
{% endif -%}
module {{ module }} #(
    parameter MEM_DIR = "mem"  // directory of the .mem files; $readmemh opens MEM_DIR/<file>
) (
    input  wire {{ blank }} ap_clk,         // clock
    input  wire {{ blank }} ap_rst_n,       // synchronous reset, active low
    input  wire {{ r_in }} s_axis_tdata,   // {{ in_elems }} x {{ ibits }}-bit input elements
    input  wire {{ blank }} s_axis_tvalid,
    output wire {{ blank }} s_axis_tready,
    output wire {{ r_out }} m_axis_tdata,   // {{ pe }} x {{ obits }}-bit output elements
    output wire {{ blank }} m_axis_tvalid,
    input  wire {{ blank }} m_axis_tready
);

    wire {{ blank }} wmem_en;
    wire {{ r_waddr }} wmem_addr;
    wire {{ r_wdata }} wmem_rdata;
    wire {{ blank }} tmem_en;
    wire {{ r_taddr }} tmem_addr;
    wire {{ r_tdata }} tmem_rdata;

    {{ core }} #(
{%- for p in params %}
        .{{ p.name }}({{ p.value }}){% if !loop.last %},{% endif %}
{%- endfor %}
    ) {{ core_inst }} (
        .ap_clk       (ap_clk),
        .ap_rst_n     (ap_rst_n),
        .s_axis_tdata (s_axis_tdata),
        .s_axis_tvalid(s_axis_tvalid),
        .s_axis_tready(s_axis_tready),
        .m_axis_tdata (m_axis_tdata),
        .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready),
        .wmem_en      (wmem_en),
        .wmem_addr    (wmem_addr),
        .wmem_rdata   (wmem_rdata),
        .tmem_en      (tmem_en),
        .tmem_addr    (tmem_addr),
        .tmem_rdata   (tmem_rdata)
    );
{% if wlogic.is_empty() %}
    // Weight ROMs, one per PE: {{ wdepth }} words of {{ ww }} bits; word nf*{{ sf }}+sf holds
    // W[nf*{{ pe }}+pe][sf*{{ simd }}+lane], lane at bits [lane*{{ wbits }} +: {{ wbits }}].
    // RAM_STYLE "{{ wstyle }}": {{ wreason }}.
{%- for r in wroms %}
    bnn_rom #(.WIDTH({{ ww }}), .DEPTH({{ wdepth }}), {{ r.init }}, .RAM_STYLE("{{ wstyle }}")) {{ r.inst }} (
        .ap_clk(ap_clk), .en(wmem_en), .addr(wmem_addr[{{ r.ahi }}:{{ r.alo }}]), .rdata(wmem_rdata[{{ r.hi }}:{{ r.lo }}])
    );
{%- endfor %}
{%- else %}
    // Weights as logic (net.toml weight_storage = "logic"): per PE a table of {{ wdepth }}
    // constants of {{ ww }} bits instead of a ROM; constant nf*{{ sf }}+sf holds
    // W[nf*{{ pe }}+pe][sf*{{ simd }}+lane], lane at bits [lane*{{ wbits }} +: {{ wbits }}].
    // The same two-cycle read as bnn_rom's LUT styles (address register, then the data
    // register), so the MVTU's timing does not change; all-zero words fall to the default.
    // Synthesis folds the constants: a data bit equal in every word is no register and no
    // logic, and the MVTU's products and adder-tree inputs it feeds simplify with it.
{%- for r in wlogic %}
    reg  [{{ r.aw - 1 }}:0] {{ r.addr }};
    reg  [{{ ww - 1 }}:0] {{ r.data }};
    always @(posedge ap_clk) begin
        if (wmem_en) begin
            {{ r.addr }} <= wmem_addr[{{ r.ahi }}:{{ r.alo }}];
            case ({{ r.addr }})
{%- for (a, w) in r.cases %}
                {{ a }}: {{ r.data }} <= {{ w }};
{%- endfor %}
                default: {{ r.data }} <= {{ ww }}'h0;
            endcase
        end
    end
    assign wmem_rdata[{{ r.hi }}:{{ r.lo }}] = {{ r.data }};
{%- endfor %}
{%- endif %}
{% if troms.is_empty() %}
    // No activation: no threshold ROMs (the MVTU ignores tmem_rdata).
    assign tmem_rdata = {{ pe * tw }}'d0;
    wire unused_tmem = &{1'b0, tmem_en, tmem_addr};
{%- else %}
    // Threshold ROMs, one per PE: {{ tdepth }} words of {{ tw }} bits; word nf holds
    // {{ tword }} ({{ tbits }}-bit two's complement) of channel nf*{{ pe }}+pe:
    // T' = T when dir = 0 (out counts acc >= T), T + 1 when dir = 1 (out counts acc <= T,
    // as NSTEPS - #{acc >= T'}).
    // RAM_STYLE "{{ tstyle }}": {{ treason }}.
{%- for r in troms %}
    bnn_rom #(.WIDTH({{ tw }}), .DEPTH({{ tdepth }}), {{ r.init }}, .RAM_STYLE("{{ tstyle }}")) {{ r.inst }} (
        .ap_clk(ap_clk), .en(tmem_en), .addr(tmem_addr), .rdata(tmem_rdata[{{ r.hi }}:{{ r.lo }}])
    );
{%- endfor %}
{%- endif %}

endmodule

`default_nettype wire

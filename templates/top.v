{% for line in header -%}
//{% if !line.is_empty() %} {{ line }}{% endif %}
{% endfor -%}
`default_nettype none

module {{ module }} #(
    parameter MEM_DIR = "mem"  // directory of the .mem files, relative to the tool's working directory
) (
    input  wire {{ blank }} ap_clk,         // clock
    input  wire {{ blank }} ap_rst_n,       // synchronous reset, active low
    input  wire {{ r_in }} s_axis_tdata,   // {{ in_desc }}
    input  wire {{ blank }} s_axis_tvalid,
    output wire {{ blank }} s_axis_tready,
    output wire {{ r_out }} m_axis_tdata,   // {{ out_desc }}
    output wire {{ blank }} m_axis_tvalid,
    input  wire {{ blank }} m_axis_tready
);

    // Streams between the blocks.
{%- for w in wires %}
    wire {{ w.range }} {{ w.name }}_tdata;
    wire {{ blank }} {{ w.name }}_tvalid;
    wire {{ blank }} {{ w.name }}_tready;
{%- endfor %}

    // Input port.
{%- for line in input_wiring %}
    {{ line }}
{%- endfor %}
{% for b in blocks %}
    // {{ b.comment }}
    {{ b.module }} #(
{%- for p in b.params %}
        .{{ p.name }}({{ p.value }}){% if !loop.last %},{% endif %}
{%- endfor %}
    ) {{ b.inst }} (
        .ap_clk       (ap_clk),
        .ap_rst_n     (ap_rst_n),
        .s_axis_tdata ({{ b.input }}_tdata),
        .s_axis_tvalid({{ b.input }}_tvalid),
        .s_axis_tready({{ b.input }}_tready),
        .m_axis_tdata ({{ b.output }}_tdata),
        .m_axis_tvalid({{ b.output }}_tvalid),
        .m_axis_tready({{ b.output }}_tready)
    );
{% endfor %}
    // Output port.
{%- for line in output_wiring %}
    {{ line }}
{%- endfor %}

`ifdef BNN_AXIS_MONITOR
    // Simulation only (bnn_gen_sim.f defines BNN_AXIS_MONITOR and adds rtl/bnn_axis_monitor.v):
    // AXI-Stream protocol checks on the ports and on every stream between two blocks.
{%- for m in monitors %}
    bnn_axis_monitor #(.WIDTH({{ m.bits }}), .LINK("{{ m.link }}")) {{ m.inst }} (
        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
        .tdata({{ m.stream }}_tdata), .tvalid({{ m.stream }}_tvalid), .tready({{ m.stream }}_tready)
    );
{%- endfor %}
`endif

endmodule

`default_nettype wire

// axis_tb.cpp -- generic Verilator AXI-Stream harness for bnn-gen designs.
//
// Works with any top module that has the ports
//   ap_clk, ap_rst_n,
//   s_axis_tdata [IN_BITS], s_axis_tvalid, s_axis_tready,
//   m_axis_tdata [OUT_BITS], m_axis_tvalid, m_axis_tready
// of any width (VlWide ports for > 64 bits are handled by templates).
//
// Build (the top class must be called Vtop):
//   verilator --cc --exe --build -O2 --prefix Vtop --top-module <top> \
//       -CFLAGS -DIN_BITS=<n> -CFLAGS -DOUT_BITS=<m> <sources.v> sim/axis_tb.cpp
// (add --trace to enable --vcd).
//
// Run:
//   obj_dir/Vtop --in in.hex --out out.txt --in-cycles in_cycles.txt \
//       --expect <n_out_words> --timeout <cycles> [--seed S] [--stall P]
//       [--stall-in P] [--stall-out P] [--extra N] [--vcd file.vcd]
//
// The exact stall pattern and cycle numbering are specified in sim/README.md
// (a Rust model reproduces them); keep both in sync.

#include "Vtop.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#ifndef IN_BITS
#error "compile with -DIN_BITS=<width of s_axis_tdata>"
#endif
#ifndef OUT_BITS
#error "compile with -DOUT_BITS=<width of m_axis_tdata>"
#endif

namespace {

constexpr int kInWords = (IN_BITS + 31) / 32;
constexpr int kOutWords = (OUT_BITS + 31) / 32;

using Word = std::vector<uint32_t>;  // little-endian 32-bit limbs

// ---------------------------------------------------------------- ports --
template <typename T>
typename std::enable_if<std::is_integral<T>::value>::type set_port(T& port, const Word& w) {
    uint64_t v = w.empty() ? 0 : w[0];
    if (w.size() > 1) v |= static_cast<uint64_t>(w[1]) << 32;
    port = static_cast<T>(v);
}
template <std::size_t N>
void set_port(VlWide<N>& port, const Word& w) {
    for (std::size_t i = 0; i < N; ++i) port.at(i) = i < w.size() ? w[i] : 0u;
}
template <typename T>
typename std::enable_if<std::is_integral<T>::value, Word>::type get_port(const T& port) {
    const uint64_t v = static_cast<uint64_t>(port);
    Word w(kOutWords, 0);
    w[0] = static_cast<uint32_t>(v);
    if (kOutWords > 1) w[1] = static_cast<uint32_t>(v >> 32);
    return w;
}
template <std::size_t N>
Word get_port(const VlWide<N>& port) {
    Word w(kOutWords, 0);
    for (std::size_t i = 0; i < N && i < static_cast<std::size_t>(kOutWords); ++i) w[i] = port.at(i);
    return w;
}

// ------------------------------------------------------------------ hex --
bool parse_hex(const std::string& line, int bits, Word& out) {
    std::string s;
    for (char c : line) {
        if (c == '_' || c == ' ' || c == '\t' || c == '\r') continue;
        s.push_back(c);
    }
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s = s.substr(2);
    if (s.empty()) return false;
    const int words = (bits + 31) / 32;
    out.assign(words, 0);
    int nib = 0;
    for (auto it = s.rbegin(); it != s.rend(); ++it, ++nib) {
        const char c = *it;
        uint32_t v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else return false;
        if (v == 0) continue;
        const int bit = nib * 4;
        if (bit >= words * 32) return false;  // far too wide
        out[bit / 32] |= v << (bit % 32);
    }
    // reject set bits above the port width
    for (int b = bits; b < words * 32; ++b)
        if ((out[b / 32] >> (b % 32)) & 1u) return false;
    return true;
}

std::string to_hex(const Word& w, int bits) {
    const int digits = (bits + 3) / 4;
    std::string s(digits, '0');
    static const char* hx = "0123456789abcdef";
    for (int d = 0; d < digits; ++d) {
        const int bit = d * 4;
        uint32_t v = (w[bit / 32] >> (bit % 32)) & 0xFu;
        const int top = bits - bit;  // mask the top nibble to the width
        if (top < 4) v &= (1u << top) - 1u;
        s[digits - 1 - d] = hx[v];
    }
    return s;
}

// ------------------------------------------------------------- stalls --
inline uint32_t xorshift32(uint32_t& x) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}
uint64_t stall_threshold(double p) {
    if (!(p > 0.0)) return 0;  // also catches NaN
    const double t = std::floor(p * 4294967296.0);
    if (t >= 4294967295.0) return 4294967295ull;
    return static_cast<uint64_t>(t);
}

void usage() {
    std::cerr << "usage: Vtop --in FILE --out FILE --in-cycles FILE --expect N --timeout CYCLES\n"
                 "            [--seed S] [--stall P] [--stall-in P] [--stall-out P]\n"
                 "            [--extra N] [--vcd FILE]\n";
}

}  // namespace

int main(int argc, char** argv) {
    std::string in_path, out_path, in_cyc_path, vcd_path;
    long long expect = -1, timeout = -1, extra = 0;
    uint32_t seed = 1;
    double p_in = 0.0, p_out = 0.0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&](void) -> std::string {
            if (i + 1 >= argc) {
                usage();
                std::exit(64);
            }
            return argv[++i];
        };
        if (a == "--in") in_path = next();
        else if (a == "--out") out_path = next();
        else if (a == "--in-cycles") in_cyc_path = next();
        else if (a == "--expect") expect = std::stoll(next());
        else if (a == "--timeout") timeout = std::stoll(next());
        else if (a == "--seed") seed = static_cast<uint32_t>(std::stoull(next(), nullptr, 0));
        else if (a == "--stall") p_in = p_out = std::stod(next());
        else if (a == "--stall-in") p_in = std::stod(next());
        else if (a == "--stall-out") p_out = std::stod(next());
        else if (a == "--extra") extra = std::stoll(next());
        else if (a == "--vcd") vcd_path = next();
        else if (a.rfind("+verilator", 0) == 0) continue;
        else {
            std::cerr << "unknown argument " << a << "\n";
            usage();
            return 64;
        }
    }
    if (in_path.empty() || out_path.empty() || in_cyc_path.empty() || expect < 0 || timeout < 0) {
        usage();
        return 64;
    }

    // ---- read the input words
    std::vector<Word> inputs;
    {
        std::ifstream f(in_path);
        if (!f) {
            std::cerr << "cannot open " << in_path << "\n";
            return 66;
        }
        std::string line;
        int lineno = 0;
        while (std::getline(f, line)) {
            ++lineno;
            bool blank = true;
            for (char c : line)
                if (!std::isspace(static_cast<unsigned char>(c))) blank = false;
            if (blank) continue;
            Word w;
            if (!parse_hex(line, IN_BITS, w)) {
                std::cerr << in_path << ":" << lineno << ": bad hex word for " << IN_BITS
                          << "-bit input: " << line << "\n";
                return 65;
            }
            inputs.push_back(w);
        }
    }
    std::ofstream fout(out_path), fcyc(in_cyc_path);
    if (!fout || !fcyc) {
        std::cerr << "cannot open output files\n";
        return 73;
    }

    // ---- model
    const std::unique_ptr<VerilatedContext> ctx{new VerilatedContext};
    ctx->commandArgs(argc, argv);
    const std::unique_ptr<Vtop> top{new Vtop{ctx.get()}};
#if VM_TRACE
    std::unique_ptr<VerilatedVcdC> tfp;
    if (!vcd_path.empty()) {
        ctx->traceEverOn(true);
        tfp.reset(new VerilatedVcdC);
        top->trace(tfp.get(), 99);
        tfp->open(vcd_path.c_str());
    }
#else
    if (!vcd_path.empty()) std::cerr << "warning: --vcd ignored (build with --trace)\n";
#endif
    uint64_t t = 0;  // half-cycle time stamp for the VCD
    auto dump = [&]() {
#if VM_TRACE
        if (tfp) tfp->dump(t);
#endif
        ++t;
    };

    // ---- reset: 4 rising edges with ap_rst_n = 0
    top->ap_clk = 0;
    top->ap_rst_n = 0;
    top->s_axis_tvalid = 0;
    top->m_axis_tready = 0;
    set_port(top->s_axis_tdata, Word(kInWords, 0));
    top->eval();
    dump();
    for (int i = 0; i < 4; ++i) {
        top->ap_clk = 1;
        top->eval();
        dump();
        top->ap_clk = 0;
        top->eval();
        dump();
    }
    top->ap_rst_n = 1;

    // ---- stall generators
    uint32_t s_in = seed ? seed : 1u;
    uint32_t s_out = seed ^ 0x9E3779B9u;
    if (s_out == 0) s_out = 1u;
    const uint64_t thr_in = stall_threshold(p_in);
    const uint64_t thr_out = stall_threshold(p_out);

    std::size_t next_in = 0;  // index of the next word to present
    long long n_out = 0, n_extra = 0;
    long long cycle = 0;
    long long stop_at = -1;  // last cycle to simulate once everything arrived
    bool timed_out = false;
    for (;; ++cycle) {
        if (stop_at >= 0 && cycle > stop_at) break;
        if (cycle >= timeout) {
            timed_out = stop_at < 0;
            break;
        }
        // both generators advance once per cycle, before the rising edge
        xorshift32(s_in);
        xorshift32(s_out);
        if (!top->s_axis_tvalid && next_in < inputs.size()) {
            if (!(static_cast<uint64_t>(s_in) < thr_in)) {
                top->s_axis_tvalid = 1;
                set_port(top->s_axis_tdata, inputs[next_in]);
            }
        }
        top->m_axis_tready = (static_cast<uint64_t>(s_out) < thr_out) ? 0 : 1;
        top->eval();
        dump();
        // sample the handshakes that happen at this cycle's rising edge
        const bool in_hs = top->s_axis_tvalid && top->s_axis_tready;
        const bool out_hs = top->m_axis_tvalid && top->m_axis_tready;
        Word out_word;
        if (out_hs) out_word = get_port(top->m_axis_tdata);
        // rising edge
        top->ap_clk = 1;
        top->eval();
        dump();
        if (in_hs) {
            fcyc << cycle << "\n";
            ++next_in;
            top->s_axis_tvalid = 0;
        }
        if (out_hs) {
            fout << to_hex(out_word, OUT_BITS) << " " << cycle << "\n";
            if (n_out < expect) ++n_out;
            else ++n_extra;
            if (n_out == expect && stop_at < 0 && n_extra == 0) stop_at = cycle + extra;
        }
        if (expect == 0 && stop_at < 0) stop_at = cycle + extra;
        // let a progress bar count the output words while the run goes on
        if ((cycle & 0x3FFF) == 0x3FFF) fout.flush();
        top->ap_clk = 0;
        top->eval();
    }
    top->final();
#if VM_TRACE
    if (tfp) tfp->close();
#endif
    fout.flush();
    fcyc.flush();

    std::cout << "cycles: " << cycle << "\n";
    std::cout << "inputs accepted: " << next_in << " / " << inputs.size() << "\n";
    std::cout << "outputs received: " << n_out + n_extra << " / " << expect << "\n";
    if (timed_out) {
        std::cerr << "TIMEOUT after " << timeout << " cycles: " << n_out << " of " << expect
                  << " output words received\n";
        return 2;
    }
    if (n_extra > 0) {
        std::cerr << "ERROR: " << n_extra << " unexpected extra output word(s)\n";
        return 3;
    }
    return 0;
}

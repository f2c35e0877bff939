//! The AXI-Stream protocol monitors' reports: `hw/bnn_axis_monitor.v` prints one line per
//! violation with a fixed prefix (its header gives the format and the rules); this module parses
//! them out of the simulator's output and describes the first one for `verify`'s failure.

use std::fmt;

/// Printed by every monitor at time 0: `BNN_AXIS_MONITOR link=<link> width=<bits>`.
const REGISTERED: &str = "BNN_AXIS_MONITOR ";
/// Printed per violation: `BNN_AXIS_VIOLATION rule=<rule> link=<link> cycle=<c> <detail>` (or
/// `reset_edge=<k>` instead of `cycle=<c>`).
const VIOLATION: &str = "BNN_AXIS_VIOLATION ";

/// The rule a link broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// `tvalid` fell before a handshake.
    TvalidWithdrawn,
    /// `tdata` changed while `tvalid && !tready`.
    TdataChanged,
    /// `tvalid` or `tready` was X or Z after reset (four-state simulators only).
    XOnTvalidTready,
    /// `tvalid && tready` at a reset edge after the first.
    HandshakeInReset,
}

impl Rule {
    fn parse(s: &str) -> Option<Rule> {
        Some(match s {
            "tvalid-withdrawn" => Rule::TvalidWithdrawn,
            "tdata-changed" => Rule::TdataChanged,
            "x-on-tvalid-tready" => Rule::XOnTvalidTready,
            "handshake-in-reset" => Rule::HandshakeInReset,
            _ => return None,
        })
    }

    /// The rule as the monitor names it.
    pub fn name(self) -> &'static str {
        match self {
            Rule::TvalidWithdrawn => "tvalid-withdrawn",
            Rule::TdataChanged => "tdata-changed",
            Rule::XOnTvalidTready => "x-on-tvalid-tready",
            Rule::HandshakeInReset => "handshake-in-reset",
        }
    }

    /// The AXI-Stream rule in words.
    pub fn text(self) -> &'static str {
        match self {
            Rule::TvalidWithdrawn => "tvalid must stay high until the handshake",
            Rule::TdataChanged => "tdata must stay stable while tvalid is high and tready low",
            Rule::XOnTvalidTready => "tvalid and tready must be 0 or 1 after reset",
            Rule::HandshakeInReset => "no handshake while ap_rst_n is low",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// When a violation happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum When {
    /// The k-th rising edge of the reset (1-based); reset edges come before cycle 0.
    ResetEdge(u64),
    /// A cycle after reset, numbered as the harness does (`sim/README.md`).
    Cycle(u64),
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            When::ResetEdge(k) => write!(f, "reset edge {k} (before cycle 0)"),
            When::Cycle(c) => write!(f, "cycle {c}"),
        }
    }
}

/// One violation a monitor printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolViolation {
    pub rule: Rule,
    /// The link: the stream's name and the blocks on either side, e.g.
    /// `l0_fc0 (u_l0_fc0 -> u_link0_fifo)`.
    pub link: String,
    pub when: When,
    /// The monitor's own words (values, the cycle the stall began).
    pub detail: String,
}

impl ProtocolViolation {
    /// The harness cycle, `None` during reset.
    pub fn cycle(&self) -> Option<u64> {
        match self.when {
            When::Cycle(c) => Some(c),
            When::ResetEdge(_) => None,
        }
    }
}

impl fmt::Display for ProtocolViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AXI-Stream protocol violation on link {} at {}: {} ({}): {}",
            self.link,
            self.when,
            self.rule,
            self.rule.text(),
            self.detail
        )
    }
}

/// What the monitors printed in one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonitorLog {
    /// The links whose monitor announced itself (in the order printed).
    pub links: Vec<String>,
    /// Every violation printed, in the order printed (by cycle: the monitors print as they go).
    pub violations: Vec<ProtocolViolation>,
    /// Links on which further violations were counted but not printed.
    pub suppressed: Vec<String>,
}

impl MonitorLog {
    /// Reads the monitor lines of a simulator's output; other lines are ignored. A line with the
    /// prefix that does not parse is kept as a violation of its link (or of `?`) with the whole
    /// line as the detail, so that nothing the monitor said gets lost.
    pub fn parse(log: &str) -> MonitorLog {
        let mut out = MonitorLog::default();
        for line in log.lines() {
            let line = line.trim_end();
            if let Some(rest) = line.strip_prefix(REGISTERED) {
                let link = field(rest, "link=", &[" width="]).unwrap_or(rest);
                out.links.push(link.to_string());
            } else if let Some(rest) = line.strip_prefix(VIOLATION) {
                match parse_violation(rest) {
                    Some(Ok(v)) => out.violations.push(v),
                    Some(Err(link)) => out.suppressed.push(link),
                    None => out.violations.push(ProtocolViolation {
                        rule: Rule::TdataChanged,
                        link: "?".into(),
                        when: When::Cycle(0),
                        detail: format!("unparsed monitor line: {line}"),
                    }),
                }
            }
        }
        out
    }

    /// The earliest violation (reset edges first, then by cycle; the first printed on a tie).
    pub fn first(&self) -> Option<&ProtocolViolation> {
        self.violations.iter().min_by_key(|v| v.when)
    }

    /// The number of distinct links with a violation.
    pub fn links_violated(&self) -> usize {
        let mut links: Vec<&str> = self.violations.iter().map(|v| v.link.as_str()).collect();
        links.sort_unstable();
        links.dedup();
        links.len()
    }
}

/// The text after `key` up to the first of `ends` (or the end).
fn field<'a>(s: &'a str, key: &str, ends: &[&str]) -> Option<&'a str> {
    let start = s.find(key)? + key.len();
    let rest = &s[start..];
    let end = ends
        .iter()
        .filter_map(|e| rest.find(e))
        .min()
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// `rule=<rule> link=<link> cycle=<c>|reset_edge=<k> <detail>`: `Some(Ok)` for a violation,
/// `Some(Err(link))` for the "suppressed" note, `None` when malformed.
fn parse_violation(rest: &str) -> Option<Result<ProtocolViolation, String>> {
    let rule = field(rest, "rule=", &[" "])?;
    // The link may contain spaces; it ends at the cycle or reset-edge field.
    let link = field(rest, " link=", &[" cycle=", " reset_edge="])?.to_string();
    if rule == "suppressed" {
        return Some(Err(link));
    }
    let rule = Rule::parse(rule)?;
    let number = |key: &str| -> Option<(u64, &str)> {
        let start = rest.find(key)? + key.len();
        let tail = &rest[start..];
        let digits = tail.find(' ').unwrap_or(tail.len());
        Some((tail[..digits].parse().ok()?, tail[digits..].trim_start()))
    };
    let (when, detail) = match number(" cycle=") {
        Some((c, d)) => (When::Cycle(c), d),
        None => {
            let (k, d) = number(" reset_edge=")?;
            (When::ResetEdge(k), d)
        }
    };
    Some(Ok(ProtocolViolation {
        rule,
        link,
        when,
        detail: detail.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_monitor_lines() {
        let log = "\
BNN_AXIS_MONITOR link=s_axis (input port -> u_l0_fc0) width=8
BNN_AXIS_MONITOR link=l0_fc0 (u_l0_fc0 -> u_link0_fifo) width=12
cycles: 100
BNN_AXIS_VIOLATION rule=tdata-changed link=l0_fc0 (u_l0_fc0 -> u_link0_fifo) cycle=57 tdata 0a3 at cycle 56 (tvalid && !tready) became 0a4 before a handshake
BNN_AXIS_VIOLATION rule=handshake-in-reset link=s_axis (input port -> u_l0_fc0) reset_edge=3 tvalid && tready while ap_rst_n = 0
BNN_AXIS_VIOLATION rule=suppressed link=l0_fc0 (u_l0_fc0 -> u_link0_fifo) cycle=90 further violations on this link are not printed
";
        let m = MonitorLog::parse(log);
        assert_eq!(
            m.links,
            [
                "s_axis (input port -> u_l0_fc0)",
                "l0_fc0 (u_l0_fc0 -> u_link0_fifo)"
            ]
        );
        assert_eq!(m.violations.len(), 2);
        assert_eq!(m.violations[0].rule, Rule::TdataChanged);
        assert_eq!(m.violations[0].link, "l0_fc0 (u_l0_fc0 -> u_link0_fifo)");
        assert_eq!(m.violations[0].cycle(), Some(57));
        assert!(m.violations[0].detail.starts_with("tdata 0a3 at cycle 56"));
        assert_eq!(m.suppressed, ["l0_fc0 (u_l0_fc0 -> u_link0_fifo)"]);
        // A violation during reset comes before every cycle.
        let first = m.first().unwrap();
        assert_eq!(first.rule, Rule::HandshakeInReset);
        assert_eq!(first.when, When::ResetEdge(3));
        assert_eq!(m.links_violated(), 2);
        assert!(first.to_string().contains("reset edge 3"), "{first}");
    }

    #[test]
    fn keeps_a_malformed_line() {
        let m = MonitorLog::parse("BNN_AXIS_VIOLATION rule=nonsense\n");
        assert_eq!(m.violations.len(), 1);
        assert!(m.violations[0].detail.contains("rule=nonsense"));
    }
}

//! The output of the collection command ([`super::COMMAND`]) read into a [`Sample`] (pure).
//! Every section is required; a missing, truncated or garbled one is a [`ParseError`]
//! naming the section and the line, never a panic.

use vm_api::{DiskUsage, ListeningPort, MemoryUsage};

/// What one run of the command read.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The `cpu` line of `/proc/stat`.
    pub cpu: CpuTimes,
    /// From `/proc/meminfo`.
    pub memory: MemoryUsage,
    /// From `df -P -B1 /`.
    pub disk: DiskUsage,
    /// Byte counters summed over every interface but `lo`, from `/proc/net/dev`.
    pub network: NetCounters,
    /// From `ss -tlnpH`, by port then address.
    pub listening: Vec<ListeningPort>,
}

/// The all-CPU times of `/proc/stat`, in clock ticks: user, nice, system, idle, iowait,
/// irq, softirq, steal (guest time is already in user); zero for a field an old kernel
/// does not print.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes(pub [u64; 8]);

impl CpuTimes {
    /// Idle and iowait.
    pub const IDLE: [usize; 2] = [3, 4];
}

/// Received and sent bytes since boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetCounters {
    /// Received.
    pub rx_bytes: u64,
    /// Sent.
    pub tx_bytes: u64,
}

/// Why the output cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the VM's {section} output{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct ParseError {
    /// The section: `/proc/stat`, `/proc/meminfo`, `/proc/net/dev`, `df`, `ss`, or
    /// `command` for the framing.
    pub section: &'static str,
    /// The 1-based line within the section, when one line is at fault.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// The marker the command prints before each section: `@@tart-infra-stats <name>`.
pub const MARKER: &str = "@@tart-infra-stats ";

/// The sections, in the order the command prints them.
pub const SECTIONS: [&str; 5] = ["stat", "meminfo", "netdev", "df", "ss"];

fn error(section: &'static str, line: Option<usize>, message: impl Into<String>) -> ParseError {
    ParseError {
        section,
        line,
        message: message.into(),
    }
}

/// The command's whole output.
pub fn sample(output: &str) -> Result<Sample, ParseError> {
    let sections = split(output)?;
    let text = |name: &str| {
        sections
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .unwrap_or_default()
    };
    Ok(Sample {
        cpu: proc_stat(text("stat"))?,
        memory: meminfo(text("meminfo"))?,
        disk: df(text("df"))?,
        network: net_dev(text("netdev"))?,
        listening: ss(text("ss"))?,
    })
}

/// The sections by name; each of [`SECTIONS`] exactly once.
fn split(output: &str) -> Result<Vec<(&str, &str)>, ParseError> {
    let mut found: Vec<(&str, &str)> = Vec::new();
    let mut rest = output;
    let Some(start) = rest.find(MARKER) else {
        return Err(error(
            "command",
            None,
            "no section markers; is the VM's shell bash and are cat, df and ss installed?",
        ));
    };
    rest = &rest[start..];
    while let Some(after) = rest.strip_prefix(MARKER) {
        let (name, body) = after.split_once('\n').unwrap_or((after, ""));
        let end = body.find(MARKER).unwrap_or(body.len());
        let name = name.trim();
        if found.iter().any(|(n, _)| *n == name) {
            return Err(error("command", None, format!("section {name} twice")));
        }
        found.push((name, &body[..end]));
        rest = &body[end..];
    }
    for want in SECTIONS {
        if !found.iter().any(|(n, _)| *n == want) {
            return Err(error(
                "command",
                None,
                format!("no {want} section: the output was cut short"),
            ));
        }
    }
    Ok(found)
}

fn number(section: &'static str, line: usize, field: &str, text: &str) -> Result<u64, ParseError> {
    text.parse::<u64>().map_err(|_| {
        error(
            section,
            Some(line),
            format!("{field} is {text:?}, not a whole number"),
        )
    })
}

/// The first line of `/proc/stat`: `cpu  user nice system idle iowait irq softirq steal
/// guest guest_nice` (kernels before 2.6.33 print fewer; at least the first four).
pub fn proc_stat(text: &str) -> Result<CpuTimes, ParseError> {
    const S: &str = "/proc/stat";
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| error(S, None, "no `cpu ` line"))?;
    let fields = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .enumerate()
        .map(|(i, f)| number(S, 1, &format!("field {}", i + 2), f))
        .collect::<Result<Vec<_>, _>>()?;
    if fields.len() < 4 {
        return Err(error(
            S,
            Some(1),
            format!("{} CPU times, want at least 4", fields.len()),
        ));
    }
    let mut times = [0u64; 8];
    times[..fields.len()].copy_from_slice(&fields);
    Ok(CpuTimes(times))
}

/// `MemTotal` and `MemAvailable` of `/proc/meminfo` (in kB there).
pub fn meminfo(text: &str) -> Result<MemoryUsage, ParseError> {
    const S: &str = "/proc/meminfo";
    let kib = |key: &str| -> Result<u64, ParseError> {
        let (i, value) = text
            .lines()
            .enumerate()
            .find_map(|(i, l)| {
                let (k, v) = l.split_once(':')?;
                (k == key).then_some((i, v.trim()))
            })
            .ok_or_else(|| {
                error(
                    S,
                    None,
                    format!("no {key} line (kernel 3.14 or later has it)"),
                )
            })?;
        let digits = value.strip_suffix("kB").unwrap_or(value).trim();
        number(S, i + 1, key, digits)
    };
    let total = kib("MemTotal")?.saturating_mul(1024);
    let available = kib("MemAvailable")?.saturating_mul(1024);
    if available > total {
        return Err(error(
            S,
            None,
            format!("MemAvailable ({available} B) is more than MemTotal ({total} B)"),
        ));
    }
    Ok(MemoryUsage {
        used_bytes: total - available,
        total_bytes: total,
    })
}

/// `/proc/net/dev`: two header lines, then `iface: rx_bytes rx_packets ... (8 receive
/// fields) tx_bytes ...`; summed over every interface but `lo`.
pub fn net_dev(text: &str) -> Result<NetCounters, ParseError> {
    const S: &str = "/proc/net/dev";
    let mut sum = NetCounters::default();
    let mut interfaces = 0;
    for (i, line) in text.lines().enumerate() {
        let Some((name, counters)) = line.split_once(':') else {
            if line.contains('|') || line.trim().is_empty() {
                continue;
            }
            return Err(error(
                S,
                Some(i + 1),
                "neither a header nor `interface: counters`",
            ));
        };
        let fields: Vec<&str> = counters.split_whitespace().collect();
        if fields.len() != 16 {
            return Err(error(
                S,
                Some(i + 1),
                format!("{} counters, want 16", fields.len()),
            ));
        }
        let rx = number(S, i + 1, "receive bytes", fields[0])?;
        let tx = number(S, i + 1, "transmit bytes", fields[8])?;
        interfaces += 1;
        if name.trim() != "lo" {
            sum.rx_bytes = sum.rx_bytes.saturating_add(rx);
            sum.tx_bytes = sum.tx_bytes.saturating_add(tx);
        }
    }
    if interfaces == 0 {
        return Err(error(S, None, "no interface lines"));
    }
    Ok(sum)
}

/// `df -P -B1 /`: a header, then `filesystem size used available capacity mount`.
pub fn df(text: &str) -> Result<DiskUsage, ParseError> {
    const S: &str = "df";
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or_else(|| error(S, None, "empty"))?;
    if !header.starts_with("Filesystem") {
        return Err(error(S, Some(1), "no `Filesystem` header"));
    }
    let line = lines
        .next()
        .ok_or_else(|| error(S, None, "a header but no file system line"))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 6 {
        return Err(error(
            S,
            Some(2),
            format!(
                "{} fields, want 6 (filesystem size used available capacity mount)",
                fields.len()
            ),
        ));
    }
    let total_bytes = number(S, 2, "size", fields[1])?;
    let used_bytes = number(S, 2, "used", fields[2])?;
    Ok(DiskUsage {
        mount: fields[5..].join(" "),
        used_bytes,
        total_bytes,
    })
}

/// `ss -tlnpH`: `LISTEN recv-q send-q local:port peer:port [users:(("name",pid=..,fd=..))]`.
pub fn ss(text: &str) -> Result<Vec<ListeningPort>, ParseError> {
    const S: &str = "ss";
    let mut ports = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 5 {
            return Err(error(
                S,
                Some(i + 1),
                format!(
                    "{} fields, want state, queues, local and peer address",
                    fields.len()
                ),
            ));
        }
        let local = fields[3];
        let (address, port) = local.rsplit_once(':').ok_or_else(|| {
            error(
                S,
                Some(i + 1),
                format!("local address {local:?} has no port"),
            )
        })?;
        let port = port.parse::<u16>().map_err(|_| {
            error(
                S,
                Some(i + 1),
                format!("port {port:?} is not a number from 0 to 65535"),
            )
        })?;
        let address = address.trim_start_matches('[').trim_end_matches(']');
        let process = fields[5..].iter().find_map(|f| {
            let name = f.strip_prefix("users:((\"")?;
            let end = name.find('"')?;
            Some(name[..end].to_owned())
        });
        ports.push(ListeningPort {
            port,
            protocol: "tcp".to_owned(),
            address: address.to_owned(),
            process,
        });
    }
    ports.sort_by(|a, b| (a.port, &a.address).cmp(&(b.port, &b.address)));
    Ok(ports)
}

//! Pure parsers of what the host's commands and files print: `sysctl -n hw.ncpu hw.memsize`
//! (macOS), `/proc/cpuinfo` and `/proc/meminfo` (Linux), `df -Pk` and `tart --version`.
//! Bad input gives `None`, never a panic; the tests use real samples of each output.

use std::fmt;

/// A release version `major.minor.patch` (a missing patch is 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Version {
    /// `2.28.3`, `v2.28.3` or `2.28`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.strip_prefix('v').unwrap_or(s);
        let mut parts = s.split('.');
        let number = |p: Option<&str>| {
            p.filter(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u32>().ok())
        };
        let major = number(parts.next())?;
        let minor = number(parts.next())?;
        let patch = match parts.next() {
            None => 0,
            some => number(some)?,
        };
        parts.next().is_none().then_some(Self {
            major,
            minor,
            patch,
        })
    }
}

/// The version in the first line of `tart --version` (`2.28.3`; a word before it, such as
/// `tart 2.28.3`, is skipped).
pub fn tart_version(output: &str) -> Option<Version> {
    output
        .lines()
        .next()?
        .split_whitespace()
        .find_map(Version::parse)
}

/// `sysctl -n hw.ncpu hw.memsize`: the CPU count and the memory in bytes, one per line;
/// gives CPUs and MiB.
pub fn sysctl_cpus_memory(output: &str) -> Option<(u32, u64)> {
    let mut lines = output.lines().map(str::trim).filter(|l| !l.is_empty());
    let cpus: u32 = lines.next()?.parse().ok()?;
    let bytes: u64 = lines.next()?.parse().ok()?;
    (cpus > 0 && lines.next().is_none()).then_some((cpus, bytes / (1024 * 1024)))
}

/// The number of `processor : N` entries of `/proc/cpuinfo`.
pub fn proc_cpuinfo_cpus(text: &str) -> Option<u32> {
    let count = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(key, _)| key.trim() == "processor")
        .count();
    u32::try_from(count).ok().filter(|&n| n > 0)
}

/// `MemTotal` of `/proc/meminfo` in MiB.
pub fn proc_meminfo_mib(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line["MemTotal:".len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(kib / 1024)
}

/// The `Available` column (KiB) of the one file system `df -Pk <dir>` prints. The file
/// system name and the mount point may contain spaces (`map auto_home`), so the row is read
/// as: three numbers (size, used, available) followed by the capacity (`56%`).
pub fn df_available_kib(output: &str) -> Option<u64> {
    let mut lines = output.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next()?;
    if !header.starts_with("Filesystem") {
        return None;
    }
    let row: Vec<&str> = lines.next()?.split_whitespace().collect();
    if lines.next().is_some() {
        return None;
    }
    let numeric = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit());
    (1..row.len().saturating_sub(3)).find_map(|i| {
        let [size, used, available, capacity] = [row[i], row[i + 1], row[i + 2], row[i + 3]];
        let is_row = numeric(size)
            && numeric(used)
            && numeric(available)
            && capacity
                .strip_suffix('%')
                .is_some_and(|c| c == "-" || numeric(c));
        if is_row { available.parse().ok() } else { None }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `df -Pk ~` on macOS 15 (APFS data volume).
    const DF_MACOS: &str = "\
Filesystem   1024-blocks      Used Available Capacity  Mounted on
/dev/disk3s5   971350180 523434016 421245436    56%    /System/Volumes/Data
";
    /// `df -Pk /home` on macOS: the automounter's map has a space in its name.
    const DF_MACOS_AUTOFS: &str = "\
Filesystem    1024-blocks Used Available Capacity  Mounted on
map auto_home           0    0         0   100%    /System/Volumes/Data/home
";
    /// `df -Pk /work` on the Linux CI machine.
    const DF_LINUX: &str = "\
Filesystem     1024-blocks     Used Available Capacity Mounted on
/dev/vda         264212084 23652040  71849224      25% /
";
    /// A mount point with a space.
    const DF_SPACE_IN_MOUNT: &str = "\
Filesystem     1024-blocks  Used Available Capacity Mounted on
/dev/disk4s1      1000000 10000    990000       2% /Volumes/VM Disk
";

    #[test]
    fn df_gives_the_available_kib_of_real_outputs() {
        assert_eq!(df_available_kib(DF_MACOS), Some(421_245_436));
        assert_eq!(df_available_kib(DF_MACOS_AUTOFS), Some(0));
        assert_eq!(df_available_kib(DF_LINUX), Some(71_849_224));
        assert_eq!(df_available_kib(DF_SPACE_IN_MOUNT), Some(990_000));
    }

    #[test]
    fn bad_df_output_is_none_not_a_panic() {
        for bad in [
            "",
            "Filesystem 1024-blocks Used Available Capacity Mounted on\n",
            "/dev/vda 1 2 3 4% /\n",
            "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 1 2 x 4% /\n",
            "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 1 2 3\n",
            "Filesystem\n/dev/vda 1 2 3 4% /\n/dev/vdb 1 2 3 4% /b\n",
            "Filesystem\n%\n",
            "Filesystem\n1 2 3 4%\n",
        ] {
            assert_eq!(df_available_kib(bad), None, "{bad:?}");
        }
        // Every prefix of a real output parses or is None: never a panic.
        for end in 0..DF_MACOS.len() {
            let _ = df_available_kib(&DF_MACOS[..end]);
        }
    }

    #[test]
    fn sysctl_gives_cpus_and_mib() {
        // `sysctl -n hw.ncpu hw.memsize` on an M2 Pro with 32 GiB.
        assert_eq!(sysctl_cpus_memory("12\n34359738368\n"), Some((12, 32_768)));
        for bad in [
            "",
            "12\n",
            "x\n1\n",
            "0\n1024\n",
            "12\n34359738368\n7\n",
            "12\n-1\n",
        ] {
            assert_eq!(sysctl_cpus_memory(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn proc_files_give_cpus_and_mib() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\n";
        assert_eq!(proc_cpuinfo_cpus(cpuinfo), Some(2));
        assert_eq!(proc_cpuinfo_cpus("vendor_id\t: x\n"), None);
        let meminfo = "MemTotal:       16318412 kB\nMemFree:         1183096 kB\nMemAvailable:   10502632 kB\n";
        assert_eq!(proc_meminfo_mib(meminfo), Some(15_935));
        for bad in ["", "MemTotal: x kB\n", "MemTotal: 12\n", "MemFree: 1 kB\n"] {
            assert_eq!(proc_meminfo_mib(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn tart_versions_parse_and_order() {
        let v = |s| tart_version(s);
        assert_eq!(
            v("2.28.3\n"),
            Some(Version {
                major: 2,
                minor: 28,
                patch: 3
            })
        );
        assert_eq!(v("tart 2.30.0"), Version::parse("2.30.0"));
        assert_eq!(v("v2.28").map(|v| v.to_string()), Some("2.28.0".to_owned()));
        for bad in ["", "SNAPSHOT", "2", "2.x.1", "2.28.3.1", "-2.1", "2..1"] {
            assert_eq!(v(bad), None, "{bad:?}");
        }
        assert!(Version::parse("2.9.0") < Version::parse("2.28.0"));
    }
}

//! TEST DOUBLE, NOT SHIPPED. Tart's output formats, as pure functions: Swift
//! `JSONEncoder` with `.prettyPrinted` (two-space indent, `"key" : value`, `/` escaped as
//! `\/`), the plain text table of `list`/`get`, ISO-8601 and relative access dates.

use std::fmt::Write as _;

/// A JSON value as Tart's encoders emit them.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// One encoded object: fields in declaration order (Swift's order is not guaranteed; a
/// client must parse a map, as the notes say).
pub type Obj = Vec<(&'static str, Val)>;

/// Swift's JSON string escaping: quotes, backslashes, control characters and `/`.
fn swift_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn val(v: &Val) -> String {
    match v {
        Val::Str(s) => swift_string(s),
        Val::Int(i) => i.to_string(),
        Val::Bool(b) => b.to_string(),
    }
}

fn object(obj: &Obj, indent: &str) -> String {
    let mut out = String::from("{\n");
    for (i, (k, v)) in obj.iter().enumerate() {
        let comma = if i + 1 < obj.len() { "," } else { "" };
        let _ = writeln!(out, "{indent}  \"{k}\" : {}{comma}", val(v));
    }
    out.push_str(indent);
    out.push('}');
    out
}

/// `renderSingle` in JSON: one pretty-printed object.
pub fn json_single(obj: &Obj) -> String {
    object(obj, "")
}

/// `renderList` in JSON: a pretty-printed array (`[\n\n]` when empty, as Foundation does).
pub fn json_list(objs: &[Obj]) -> String {
    if objs.is_empty() {
        return "[\n\n]".to_owned();
    }
    let items: Vec<String> = objs
        .iter()
        .map(|o| format!("  {}", object(o, "  ")))
        .collect();
    format!("[\n{}\n]", items.join(",\n"))
}

/// `renderList` as text: TextTable's plain style (left-aligned columns, one space apart),
/// without the deprecated `Running` column; empty when there are no rows.
pub fn text_table(objs: &[Obj]) -> String {
    let Some(first) = objs.first() else {
        return String::new();
    };
    let cols: Vec<&'static str> = first
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| *k != "Running")
        .collect();
    let cell = |v: &Val| match v {
        Val::Str(s) => s.clone(),
        Val::Int(i) => i.to_string(),
        Val::Bool(b) => b.to_string(),
    };
    let rows: Vec<Vec<String>> = objs
        .iter()
        .map(|o| {
            cols.iter()
                .map(|c| {
                    o.iter()
                        .find(|(k, _)| k == c)
                        .map(|(_, v)| cell(v))
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join(" ")
            .trim_end()
            .to_owned()
    };
    let mut lines = vec![line(cols.iter().map(|c| (*c).to_owned()).collect())];
    lines.extend(rows.into_iter().map(line));
    lines.join("\n")
}

/// Seconds since the epoch as `ISO8601DateFormatter` prints them: `2026-03-20T10:15:02Z`.
pub fn iso8601(epoch_secs: u64) -> String {
    let days = (epoch_secs / 86_400) as i64;
    let rem = epoch_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `RelativeDateTimeFormatter` (full style) for a time `ago_secs` in the past.
pub fn relative(ago_secs: u64) -> String {
    let (n, unit) = match ago_secs {
        0..60 => (ago_secs, "second"),
        60..3600 => (ago_secs / 60, "minute"),
        3600..86_400 => (ago_secs / 3600, "hour"),
        _ => (ago_secs / 86_400, "day"),
    };
    let plural = if n == 1 { "" } else { "s" };
    format!("{n} {unit}{plural} ago")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(name: &str) -> Obj {
        vec![
            ("Source", Val::Str("local".into())),
            ("Name", Val::Str(name.into())),
            ("Disk", Val::Int(50)),
            ("Size", Val::Int(4)),
            ("Accessed", Val::Str("2026-03-20T10:15:02Z".into())),
            ("Running", Val::Bool(true)),
            ("State", Val::Str("running".into())),
        ]
    }

    #[test]
    fn lists_are_swift_pretty_printed() {
        let oci = vec![
            ("Source", Val::Str("OCI".into())),
            ("Name", Val::Str("ghcr.io/cirruslabs/ubuntu:latest".into())),
        ];
        let text = json_list(&[local("dev-cp-0"), oci]);
        let want = "[\n  {\n    \"Source\" : \"local\",\n    \"Name\" : \"dev-cp-0\",\n    \"Disk\" : 50,\n    \"Size\" : 4,\n    \"Accessed\" : \"2026-03-20T10:15:02Z\",\n    \"Running\" : true,\n    \"State\" : \"running\"\n  },\n  {\n    \"Source\" : \"OCI\",\n    \"Name\" : \"ghcr.io\\/cirruslabs\\/ubuntu:latest\"\n  }\n]";
        assert_eq!(text, want);
        let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(parsed[1]["Name"], "ghcr.io/cirruslabs/ubuntu:latest");
        assert_eq!(json_list(&[]), "[\n\n]");
        assert!(serde_json::from_str::<Vec<serde_json::Value>>("[\n\n]").is_ok());
    }

    #[test]
    fn a_single_object_and_escapes() {
        let text = json_single(&vec![
            ("CPU", Val::Int(4)),
            ("Display", Val::Str("a\"b\\\n".into())),
        ]);
        assert_eq!(
            text,
            "{\n  \"CPU\" : 4,\n  \"Display\" : \"a\\\"b\\\\\\n\"\n}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(parsed["Display"], "a\"b\\\n");
    }

    #[test]
    fn the_text_table_drops_running() {
        let text = text_table(&[local("a"), local("longer-name")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Source Name        Disk Size Accessed             State"
        );
        assert_eq!(
            lines[1],
            "local  a           50   4    2026-03-20T10:15:02Z running"
        );
        assert_eq!(text_table(&[]), "");
    }

    #[test]
    fn dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_774_001_702), "2026-03-20T10:15:02Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(relative(1), "1 second ago");
        assert_eq!(relative(125), "2 minutes ago");
        assert_eq!(relative(7200), "2 hours ago");
        assert_eq!(relative(86_400 * 3), "3 days ago");
    }
}

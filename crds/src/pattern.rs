//! Regular expressions shared by a CRD's CEL rules (`self.matches('...')`, RE2) and the Rust
//! checks of the same fields (the `regex` crate, whose syntax is RE2's for these patterns):
//! one pattern string, so the two cannot disagree on what matches.

/// The CEL expression `self.matches('<pattern>')`, with the pattern escaped for a CEL
/// single-quoted string.
pub fn cel_matches(pattern: &str) -> String {
    format!("self.matches('{}')", cel_quote(pattern))
}

/// `pattern` escaped for a CEL single-quoted string: backslashes and quotes doubled up.
pub fn cel_quote(pattern: &str) -> String {
    pattern.replace('\\', "\\\\").replace('\'', "\\'")
}

/// Whether `s` matches `pattern` as CEL's `matches()` decides it (a search: anchor the
/// pattern with `^...$` to match the whole value). A pattern that does not compile matches
/// nothing; the unit tests of every pattern catch that.
pub fn is_match(pattern: &str, s: &str) -> bool {
    regex::Regex::new(pattern).is_ok_and(|re| re.is_match(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_quoted_for_cel() {
        assert_eq!(
            cel_matches(r"^1\.(3[3-9])$"),
            r"self.matches('^1\\.(3[3-9])$')"
        );
        assert_eq!(cel_quote("a'b"), r"a\'b");
        assert!(is_match("^a+$", "aaa") && !is_match("^a+$", "ab"));
        assert!(!is_match("(", "("), "a broken pattern matches nothing");
    }
}

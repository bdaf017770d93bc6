//! Task patterns as FlowForge's `detect_parallel_work "feature-auth-*"` takes them.

use std::fmt;

/// A glob over task ids: `*` matches any run of characters, `?` any one character, everything
/// else itself. A pattern without wildcards matches exactly one id.
///
/// ```
/// use flowforge_index::Pattern;
/// let p = Pattern::new("feature-auth-*");
/// assert!(p.matches("feature-auth-42"));
/// assert!(!p.matches("feature-billing-1"));
/// assert_eq!(p.literal_prefix(), "feature-auth-");
/// assert!(Pattern::new("t?").matches("t1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    glob: String,
    prefix_len: usize,
}

impl Pattern {
    /// A pattern; every string is one.
    pub fn new(glob: &str) -> Self {
        let prefix_len = glob.find(['*', '?']).unwrap_or(glob.len());
        Self {
            glob: glob.to_owned(),
            prefix_len,
        }
    }

    /// The pattern that matches every task.
    pub fn any() -> Self {
        Self::new("*")
    }

    /// The text before the first wildcard: every match starts with it, so lookups can jump
    /// straight to it in a sorted map.
    pub fn literal_prefix(&self) -> &str {
        &self.glob[..self.prefix_len]
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.glob
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        let p: Vec<char> = self.glob.chars().collect();
        let t: Vec<char> = text.chars().collect();
        flowforge_core::wildcard::matches(&p, &t, '*', '?')
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.glob)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The reference: glob as a regular-expression-free recursive definition.
    fn reference(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| reference(rest, &t[i..])),
            Some((&c, rest)) => {
                !t.is_empty() && (c == '?' || c == t[0]) && reference(rest, &t[1..])
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_like_the_recursive_definition(p in "[ab*?]{0,6}", t in "[ab]{0,8}") {
            let pattern = Pattern::new(&p);
            let pc: Vec<char> = p.chars().collect();
            let tc: Vec<char> = t.chars().collect();
            prop_assert_eq!(pattern.matches(&t), reference(&pc, &tc));
            if pattern.matches(&t) {
                prop_assert!(t.starts_with(pattern.literal_prefix()));
            }
        }
    }

    #[test]
    fn named_cases() {
        assert!(Pattern::new("*").matches(""));
        assert!(Pattern::new("a*b*c").matches("axxbyyc"));
        assert!(!Pattern::new("a*b*c").matches("axxbyy"));
        assert!(Pattern::new("exact").matches("exact"));
        assert!(!Pattern::new("exact").matches("exact1"));
        assert_eq!(Pattern::new("*x").literal_prefix(), "");
    }
}

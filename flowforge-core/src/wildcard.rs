//! Wildcard matching with `*` and `?`: task patterns (`feature-auth-*`) and the file-name
//! globs of git attribute lines share this one matcher.

/// Whether `text` matches the whole of `pattern`: `star` matches any run of items (the empty
/// one included), `one` exactly one item, and every other item itself. Iterative, going back
/// to the last `star` on a mismatch: O(`pattern.len()` × `text.len()`) at worst.
///
/// ```
/// use flowforge_core::wildcard::matches;
/// assert!(matches(b"*.txt", b"notes.txt", b'*', b'?'));
/// assert!(matches(b"t?", b"t1", b'*', b'?'));
/// assert!(!matches(b"t?", b"t12", b'*', b'?'));
/// ```
pub fn matches<T: Copy + PartialEq>(pattern: &[T], text: &[T], star: T, one: T) -> bool {
    let (mut p, mut t) = (0, 0);
    // The last `star` seen and the item of `text` it was tried against.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(&c) if c == star => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&c) if c == one || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    backtrack = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == star)
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn m(pattern: &str, text: &str) -> bool {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        matches(&chars(pattern), &chars(text), '*', '?')
    }

    #[test]
    fn stars_and_question_marks_match_as_globs_do() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(m("a*b*c", "abc"));
        assert!(!m("a*b*c", "acb"));
        assert!(m("*.rs", "main.rs"));
        assert!(!m("*.rs", "main.rsx"));
        assert!(m("a**", "a"));
        assert!(m("?", "é"), "one item is one char when matching chars");
        assert!(!m("?", ""));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(m("*a*a*a", "aaaa"));
        assert!(!m("*a*a*b", "aaaa"));
    }
}

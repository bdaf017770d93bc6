//! Path quoting exactly as git's `quote_path` does for `git status --porcelain`.

/// Appends `path` to `out` as git prints it in porcelain v1 without `-z`: C-style quoted when
/// it holds a `"`, a `\`, a control character, DEL, or (with `core.quotePath`, the default) a
/// byte of 0x80 or above; also enclosed in double quotes when it holds a space.
pub(crate) fn push_quoted(out: &mut Vec<u8>, path: &[u8], quote_path: bool) {
    let must_quote = |b: u8| escape(b, quote_path).is_some();
    let needs_dq = path.iter().any(|&b| must_quote(b) || b == b' ');
    if !needs_dq {
        out.extend_from_slice(path);
        return;
    }
    out.push(b'"');
    for &b in path {
        match escape(b, quote_path) {
            None => out.push(b),
            Some(Escape::Char(c)) => out.extend_from_slice(&[b'\\', c]),
            Some(Escape::Octal) => {
                out.push(b'\\');
                out.push(b'0' + (b >> 6));
                out.push(b'0' + ((b >> 3) & 7));
                out.push(b'0' + (b & 7));
            }
        }
    }
    out.push(b'"');
}

enum Escape {
    /// `\` followed by this letter.
    Char(u8),
    /// `\ooo`.
    Octal,
}

/// git's `cq_lookup` table.
fn escape(b: u8, quote_path: bool) -> Option<Escape> {
    match b {
        0x07 => Some(Escape::Char(b'a')),
        0x08 => Some(Escape::Char(b'b')),
        0x09 => Some(Escape::Char(b't')),
        0x0a => Some(Escape::Char(b'n')),
        0x0b => Some(Escape::Char(b'v')),
        0x0c => Some(Escape::Char(b'f')),
        0x0d => Some(Escape::Char(b'r')),
        b'"' => Some(Escape::Char(b'"')),
        b'\\' => Some(Escape::Char(b'\\')),
        0x00..=0x1f | 0x7f => Some(Escape::Octal),
        0x80..=0xff if quote_path => Some(Escape::Octal),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(path: &[u8], quote_path: bool) -> String {
        let mut out = Vec::new();
        push_quoted(&mut out, path, quote_path);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn quotes_like_git() {
        assert_eq!(q(b"plain/file.txt", true), "plain/file.txt");
        assert_eq!(q(b"with space", true), "\"with space\"");
        assert_eq!(q(b"tab\there", true), "\"tab\\there\"");
        assert_eq!(q(b"q\"uote\\", true), "\"q\\\"uote\\\\\"");
        assert_eq!(q("é".as_bytes(), true), "\"\\303\\251\"");
        assert_eq!(q("é".as_bytes(), false), "é");
        assert_eq!(q(b"\x01\x7f", true), "\"\\001\\177\"");
    }
}

//! Numbers printed into file names, hints and marks without `format!`.
//!
//! `format!("{n:020}")` pads one character at a time into a string that grows as it goes:
//! ~1,800 instructions for a version's file name, and a session cycle prints ~150 such
//! numbers (names it probes, hints, the claims view's mark). These print the same text into
//! a string sized once, in a few dozen.

/// Appends `n` in decimal, padded with zeros to `width` digits (all its digits when it has
/// more): what `format!("{n:0width$}")` prints.
pub(crate) fn push_padded(out: &mut String, n: u64, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(n);
    out.extend(std::iter::repeat_n('0', width.saturating_sub(digits.len())));
    out.push_str(digits);
}

/// [`push_padded`] for a signed number: a minus sign first when it is negative, which counts
/// in `width` (what `format!("{n:0width$}")` prints).
pub(crate) fn push_padded_signed(out: &mut String, n: i64, width: usize) {
    if n < 0 {
        out.push('-');
    }
    push_padded(
        out,
        n.unsigned_abs(),
        width.saturating_sub(usize::from(n < 0)),
    );
}

/// Appends `n` in decimal: what `format!("{n}")` prints.
pub(crate) fn push_decimal(out: &mut String, n: u64) {
    push_padded(out, n, 0);
}

/// Appends `n` in lower-case hexadecimal, padded with zeros to `width` digits (all its digits
/// when it has more): what `format!("{n:0width$x}")` prints.
pub(crate) fn push_hex(out: &mut String, n: u64, width: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let len = (64 - n.leading_zeros()).div_ceil(4).max(1) as usize;
    out.extend(std::iter::repeat_n('0', width.saturating_sub(len)));
    for nibble in (0..len).rev() {
        out.push(char::from(HEX[((n >> (nibble * 4)) & 0xf) as usize]));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn padded(n: u64, width: usize) -> String {
        let mut out = String::from("x");
        push_padded(&mut out, n, width);
        out
    }

    fn signed(n: i64, width: usize) -> String {
        let mut out = String::from("x");
        push_padded_signed(&mut out, n, width);
        out
    }

    fn hex(n: u64, width: usize) -> String {
        let mut out = String::from("x");
        push_hex(&mut out, n, width);
        out
    }

    #[test]
    fn the_edges_print_as_format_does() {
        for n in [
            0,
            1,
            9,
            10,
            15,
            16,
            99,
            100,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            for width in [0, 1, 2, 10, 16, 20, 25] {
                assert_eq!(padded(n, width), format!("x{n:0width$}"), "{n} {width}");
                assert_eq!(hex(n, width), format!("x{n:0width$x}"), "{n} {width}");
            }
        }
        for n in [
            0,
            1,
            -1,
            -9,
            -10,
            1_796_311_100,
            -1_796_311_100,
            i64::MIN,
            i64::MAX,
        ] {
            for width in [0, 1, 2, 10, 20, 21] {
                assert_eq!(signed(n, width), format!("x{n:0width$}"), "{n} {width}");
            }
        }
        let mut out = String::new();
        push_decimal(&mut out, 4_321);
        assert_eq!(out, "4321");
    }

    proptest! {
        #[test]
        fn any_number_and_width_prints_as_format_does(n in any::<u64>(), width in 0usize..32) {
            prop_assert_eq!(padded(n, width), format!("x{n:0width$}"));
            prop_assert_eq!(hex(n, width), format!("x{n:0width$x}"));
        }

        #[test]
        fn any_signed_number_prints_as_format_does(n in any::<i64>(), width in 0usize..32) {
            prop_assert_eq!(signed(n, width), format!("x{n:0width$}"));
        }
    }
}

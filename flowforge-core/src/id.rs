//! Validated identifiers: [`DeveloperId`] and [`TaskId`].
//!
//! Both become path components under the namespace root, so their alphabets contain no path
//! separator, no NUL and no way to spell `..`. A value of either type has been validated.

use std::{borrow::Borrow, ffi::OsStr, fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, IdRule};

/// Names a developer may not take, compared without regard to case.
pub const RESERVED_DEVELOPER_IDS: [&str; 4] = ["admin", "root", "system", "shared"];

/// A developer's id: 1–50 characters of `[A-Za-z0-9_-]`, not starting with `-`, and none of
/// [`RESERVED_DEVELOPER_IDS`] in any case.
///
/// ```
/// use flowforge_core::DeveloperId;
/// let alice: DeveloperId = "alice".parse()?;
/// assert_eq!(alice.as_str(), "alice");
/// assert!("../x".parse::<DeveloperId>().is_err());
/// assert!("ADMIN".parse::<DeveloperId>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeveloperId(String);

/// A task's id: 1–100 characters of `[A-Za-z0-9._-]`, not `.` or `..`, not starting with `-` or
/// `.`.
///
/// ```
/// use flowforge_core::TaskId;
/// let task: TaskId = "feature-auth-42".parse()?;
/// assert_eq!(task.as_str(), "feature-auth-42");
/// assert!("..".parse::<TaskId>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(String);

struct Rules {
    max_len: usize,
    allowed: &'static str,
    is_allowed: fn(char) -> bool,
    bad_start: &'static [char],
    reserved: &'static [&'static str],
    forbid_dot_names: bool,
}

const DEVELOPER_RULES: Rules = Rules {
    max_len: 50,
    allowed: "A-Z a-z 0-9 _ -",
    is_allowed: |c| c.is_ascii_alphanumeric() || c == '_' || c == '-',
    bad_start: &['-'],
    reserved: &RESERVED_DEVELOPER_IDS,
    forbid_dot_names: false,
};

const TASK_RULES: Rules = Rules {
    max_len: 100,
    allowed: "A-Z a-z 0-9 . _ -",
    is_allowed: |c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.',
    bad_start: &['-', '.'],
    reserved: &[],
    forbid_dot_names: true,
};

impl Rules {
    fn check(&self, input: &str) -> Result<(), IdRule> {
        if input.is_empty() {
            return Err(IdRule::Empty);
        }
        if self.forbid_dot_names && (input == "." || input == "..") {
            return Err(IdRule::DotName);
        }
        let len = input.chars().count();
        if len > self.max_len {
            return Err(IdRule::TooLong {
                max: self.max_len,
                len,
            });
        }
        if let Some((position, ch)) = input
            .chars()
            .enumerate()
            .find(|&(_, c)| !(self.is_allowed)(c))
        {
            return Err(IdRule::InvalidChar {
                ch,
                position,
                allowed: self.allowed,
            });
        }
        let first = input.chars().next().expect("input is not empty");
        if self.bad_start.contains(&first) {
            return Err(IdRule::BadStart { ch: first });
        }
        if let Some(name) = self
            .reserved
            .iter()
            .find(|name| name.eq_ignore_ascii_case(input))
        {
            return Err(IdRule::Reserved { name });
        }
        Ok(())
    }
}

/// Escapes `bytes` for an error message: printable text as is, control characters, quotes and
/// backslashes as Rust escapes, bytes that are not UTF-8 as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            out.extend(c.escape_debug());
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

macro_rules! id_type {
    ($ty:ident, $rules:expr, $variant:ident) => {
        impl $ty {
            /// Validates `input`.
            ///
            /// # Errors
            /// An [`Error`] naming the rule that failed, with the input escaped.
            pub fn new(input: &str) -> Result<Self, Error> {
                match $rules.check(input) {
                    Ok(()) => Ok(Self(input.to_owned())),
                    Err(rule) => Err(Error::$variant {
                        input: escape_bytes(input.as_bytes()),
                        rule,
                    }),
                }
            }

            /// Validates raw bytes, e.g. a command-line argument or a directory entry name that
            /// may not be UTF-8.
            ///
            /// # Errors
            /// As [`Self::new`]; bytes that are not UTF-8 fail as an invalid character.
            pub fn from_bytes(input: &[u8]) -> Result<Self, Error> {
                match std::str::from_utf8(input) {
                    Ok(s) => Self::new(s),
                    Err(e) => {
                        let valid = std::str::from_utf8(&input[..e.valid_up_to()])
                            .expect("prefix is valid UTF-8");
                        // Only a rule the valid prefix breaks as part of the whole input counts
                        // (an empty prefix is not an empty id, `.` before the bad byte is not
                        // the name `.`); otherwise the first byte that is not UTF-8 is the
                        // invalid character.
                        let rule = match $rules.check(valid) {
                            Err(
                                rule @ (IdRule::InvalidChar { .. }
                                | IdRule::BadStart { .. }
                                | IdRule::TooLong { .. }),
                            ) => rule,
                            _ => IdRule::InvalidChar {
                                ch: char::REPLACEMENT_CHARACTER,
                                position: valid.chars().count(),
                                allowed: $rules.allowed,
                            },
                        };
                        Err(Error::$variant {
                            input: escape_bytes(input),
                            rule,
                        })
                    }
                }
            }

            /// Validates an OS string, such as a file name.
            ///
            /// # Errors
            /// As [`Self::from_bytes`].
            pub fn from_os_str(input: &OsStr) -> Result<Self, Error> {
                Self::from_bytes(input.as_encoded_bytes())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = Error;
            fn try_from(s: String) -> Result<Self, Error> {
                $rules
                    .check(&s)
                    .map(|()| Self(s.clone()))
                    .map_err(|rule| Error::$variant {
                        input: escape_bytes(s.as_bytes()),
                        rule,
                    })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                Self::try_from(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(DeveloperId, DEVELOPER_RULES, InvalidDeveloperId);
id_type!(TaskId, TASK_RULES, InvalidTaskId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_utf8_are_named_as_the_invalid_character() {
        let rule = |bytes: &[u8]| match TaskId::from_bytes(bytes) {
            Err(Error::InvalidTaskId { rule, .. }) => rule,
            other => panic!("{other:?}"),
        };
        for (bytes, position) in [(&b"\xff"[..], 0), (b".\xff", 1), (b"ab\xffc", 2)] {
            assert!(
                matches!(rule(bytes), IdRule::InvalidChar { position: p, .. } if p == position),
                "{bytes:?}: {:?}",
                rule(bytes)
            );
        }
        assert!(matches!(rule(b"-\xff"), IdRule::BadStart { ch: '-' }));
        let err = DeveloperId::from_bytes(b"\xff").unwrap_err().to_string();
        assert!(!err.contains("empty"), "{err}");
    }

    fn dev_rule(input: &str) -> IdRule {
        match DeveloperId::new(input) {
            Err(Error::InvalidDeveloperId { rule, .. }) => rule,
            other => panic!("{input:?} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn developer_ids_follow_the_rules() {
        for ok in [
            "alice",
            "a",
            "dev_1",
            "Dev-2",
            "x".repeat(50).as_str(),
            "admins",
            "a-",
        ] {
            assert_eq!(DeveloperId::new(ok).unwrap().as_str(), ok);
        }
        assert_eq!(dev_rule(""), IdRule::Empty);
        assert_eq!(
            dev_rule(&"x".repeat(51)),
            IdRule::TooLong { max: 50, len: 51 }
        );
        assert!(matches!(
            dev_rule("../x"),
            IdRule::InvalidChar {
                ch: '.',
                position: 0,
                ..
            }
        ));
        assert!(matches!(
            dev_rule("a/b"),
            IdRule::InvalidChar {
                ch: '/',
                position: 1,
                ..
            }
        ));
        assert!(matches!(
            dev_rule("a.b"),
            IdRule::InvalidChar { ch: '.', .. }
        ));
        assert_eq!(dev_rule("-a"), IdRule::BadStart { ch: '-' });
        assert_eq!(dev_rule("ADMIN"), IdRule::Reserved { name: "admin" });
        assert_eq!(dev_rule("Shared"), IdRule::Reserved { name: "shared" });
        assert!(matches!(
            dev_rule("аlice"),
            IdRule::InvalidChar { ch: 'а', .. }
        )); // Cyrillic a
    }

    #[test]
    fn task_ids_follow_the_rules() {
        for ok in [
            "42",
            "feature-auth-1",
            "v1.2",
            "a..b",
            "x".repeat(100).as_str(),
        ] {
            assert_eq!(TaskId::new(ok).unwrap().as_str(), ok);
        }
        let rule = |s: &str| match TaskId::new(s) {
            Err(Error::InvalidTaskId { rule, .. }) => rule,
            other => panic!("{s:?} should be refused, got {other:?}"),
        };
        assert_eq!(rule("."), IdRule::DotName);
        assert_eq!(rule(".."), IdRule::DotName);
        assert_eq!(rule(".hidden"), IdRule::BadStart { ch: '.' });
        assert_eq!(rule("-x"), IdRule::BadStart { ch: '-' });
        assert_eq!(
            rule(&"x".repeat(101)),
            IdRule::TooLong { max: 100, len: 101 }
        );
        assert!(matches!(rule("a b"), IdRule::InvalidChar { ch: ' ', .. }));
    }

    #[test]
    fn errors_show_the_input_escaped() {
        let err = DeveloperId::new("a\0b\n").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid developer id \"a\\0b\\n\": character '\\0' at position 1 is not allowed \
             (allowed: A-Z a-z 0-9 _ -)"
        );
        let err = DeveloperId::from_bytes(b"ab\xff").unwrap_err().to_string();
        assert!(
            err.starts_with("invalid developer id \"ab\\xff\": character"),
            "{err}"
        );
        let err = TaskId::from_bytes(b"\xfe").unwrap_err().to_string();
        assert!(err.contains("\\xfe"), "{err}");
    }

    #[test]
    fn serde_validates() {
        let id: DeveloperId = serde_json::from_str("\"bob\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"bob\"");
        let err = serde_json::from_str::<DeveloperId>("\"root\"").unwrap_err();
        assert!(err.to_string().contains("reserved"), "{err}");
    }
}

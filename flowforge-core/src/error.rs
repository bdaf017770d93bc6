//! The one error type of flowforge-core.

use std::fmt;

/// Everything that can go wrong in flowforge-core: only validation, since the crate does no I/O.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A developer id broke one of the rules of [`DeveloperId`](crate::DeveloperId).
    #[error("invalid developer id \"{input}\": {rule}")]
    InvalidDeveloperId {
        /// The rejected input, escaped so that control characters and non-UTF-8 bytes are visible.
        input: String,
        /// The rule it broke.
        rule: IdRule,
    },
    /// A task id broke one of the rules of [`TaskId`](crate::TaskId).
    #[error("invalid task id \"{input}\": {rule}")]
    InvalidTaskId {
        /// The rejected input, escaped so that control characters and non-UTF-8 bytes are visible.
        input: String,
        /// The rule it broke.
        rule: IdRule,
    },
    /// A name that is not one of the six baseline operations.
    #[error("unknown operation \"{name}\" (expected one of: {expected})")]
    UnknownOperation {
        /// The rejected name.
        name: String,
        /// The accepted names, comma separated.
        expected: &'static str,
    },
}

/// Which rule an id broke.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdRule {
    /// The id is empty.
    Empty,
    /// The id is longer than `max` characters.
    TooLong {
        /// The limit.
        max: usize,
        /// The length of the input, in characters.
        len: usize,
    },
    /// The id contains a character outside its alphabet.
    InvalidChar {
        /// The offending character (U+FFFD for a byte that is not UTF-8).
        ch: char,
        /// Its position, counted in characters from 0.
        position: usize,
        /// The allowed alphabet, for the message.
        allowed: &'static str,
    },
    /// The id starts with a character it may not start with.
    BadStart {
        /// The offending first character.
        ch: char,
    },
    /// The id is `.` or `..`.
    DotName,
    /// The id is a reserved name (compared without regard to case).
    Reserved {
        /// The reserved name it matched.
        name: &'static str,
    },
}

impl fmt::Display for IdRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdRule::Empty => f.write_str("must not be empty"),
            IdRule::TooLong { max, len } => {
                write!(f, "must be at most {max} characters long, is {len}")
            }
            IdRule::InvalidChar {
                ch,
                position,
                allowed,
            } => write!(
                f,
                "character {:?} at position {position} is not allowed (allowed: {allowed})",
                ch
            ),
            IdRule::BadStart { ch } => write!(f, "must not start with {ch:?}"),
            IdRule::DotName => f.write_str("must not be \".\" or \"..\""),
            IdRule::Reserved { name } => write!(f, "\"{name}\" is a reserved name"),
        }
    }
}

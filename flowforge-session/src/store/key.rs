//! Store keys: validated names that become one directory each.

use std::fmt;

use flowforge_core::{TaskId, escape_bytes};

use crate::error::{Error, Result};

/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 128;

/// The name of a document in a [`Store`](super::Store): 1–128 characters of
/// `A-Z a-z 0-9 . _ -`, not starting with `.` or `-`, so that it is always one plain path
/// component and never collides with the store's temporary files.
///
/// ```
/// use flowforge_session::store::Key;
/// assert!(Key::new("session").is_ok());
/// assert!(Key::new("../x").is_err());
/// assert!(Key::new(".tmp").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(String);

impl Key {
    /// Validates `key`.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] naming the rule it broke.
    pub fn new(key: &str) -> Result<Self> {
        let reason = if key.is_empty() {
            Some("empty")
        } else if key.len() > MAX_KEY_LEN {
            Some("longer than 128 bytes")
        } else if key.starts_with('.') || key.starts_with('-') {
            Some("starts with '.' or '-'")
        } else if !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            Some("contains a character outside A-Z a-z 0-9 . _ -")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidKey {
                key: escape_bytes(key.as_bytes()),
                reason,
            }),
            None => Ok(Self(key.to_owned())),
        }
    }

    /// The key of a task's claim in the team store: `claim-<task>`, the directory
    /// [`Layout::claim_dir`](flowforge_core::Layout::claim_dir) names.
    pub fn claim(task: &TaskId) -> Self {
        Self(format!("{CLAIM_PREFIX}{task}"))
    }

    /// The task of a claim key, `None` for other keys.
    pub fn claim_task(&self) -> Option<TaskId> {
        self.0
            .strip_prefix(CLAIM_PREFIX)
            .and_then(|t| TaskId::new(t).ok())
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const CLAIM_PREFIX: &str = "claim-";

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn accepted_keys_are_one_plain_component(s in "\\PC{0,140}") {
            if let Ok(key) = Key::new(&s) {
                let path = std::path::Path::new(key.as_str());
                let mut components = path.components();
                prop_assert!(matches!(components.next(), Some(std::path::Component::Normal(_))));
                prop_assert!(components.next().is_none());
                prop_assert!(!s.starts_with('.'));
            }
        }
    }

    #[test]
    fn claim_keys_round_trip() {
        let task = TaskId::new("feature-1.2").unwrap();
        let key = Key::claim(&task);
        assert_eq!(key.as_str(), "claim-feature-1.2");
        assert_eq!(Key::new(key.as_str()).unwrap().claim_task(), Some(task));
        assert_eq!(Key::new("session").unwrap().claim_task(), None);
        for bad in ["", "a/b", "..", ".tmp-1", "-x", "a b", &"k".repeat(129)] {
            assert!(Key::new(bad).is_err(), "{bad:?}");
        }
    }
}

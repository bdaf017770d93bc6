//! Exit codes and error reporting shared by every subcommand.

use std::fmt;

use crate::output::{Output, errln};

/// The exit codes of `flowforge`, kept by every subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 1: the operation failed.
    Failure = 1,
    /// 2: bad usage or invalid input; nothing was written.
    Usage = 2,
    /// 3: a conflict: something is held by another developer, or a race was lost.
    Conflict = 3,
}

/// An error with the exit code it deserves.
pub(crate) struct CliError {
    pub exit: Exit,
    pub error: anyhow::Error,
    /// The command already said why on stdout: report nothing more.
    silent: bool,
}

pub(crate) type CliResult<T = ()> = Result<T, CliError>;

impl CliError {
    pub(crate) fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit: Exit::Usage,
            error: error.into(),
            silent: false,
        }
    }

    pub(crate) fn failure(error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit: Exit::Failure,
            error: error.into(),
            silent: false,
        }
    }

    /// Exit 1 without a message (the output already says why).
    pub(crate) fn silent_failure() -> Self {
        Self {
            exit: Exit::Failure,
            error: anyhow::anyhow!("failed"),
            silent: true,
        }
    }

    pub(crate) fn conflict(error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit: Exit::Conflict,
            error: error.into(),
            silent: false,
        }
    }

    /// Writes the error and its causes to `out`'s stderr, one line each, and returns the
    /// exit code.
    pub(crate) fn report(&self, out: &mut Output) -> u8 {
        if self.silent {
            return self.exit as u8;
        }
        let mut chain = self.error.chain();
        if let Some(top) = chain.next() {
            errln!(out, "flowforge: error: {}{}", self.error, hint(top));
        }
        for cause in chain {
            errln!(out, "  caused by: {cause}{}", hint(cause));
        }
        self.exit as u8
    }
}

/// Prints a follow-up step that failed after the command's change was committed: the
/// command still succeeds (exit 0), and the next write repairs what the step left behind.
pub(crate) fn warn_committed(out: &mut Output, error: &flowforge_session::Error) {
    errln!(
        out,
        "flowforge: warning: done, but a follow-up step failed (the next write repairs it): {error}{}",
        session_hint(error)
    );
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        errln!(out, "  caused by: {cause}{}", hint(cause));
        source = cause.source();
    }
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:#}", self.exit, self.error)
    }
}

impl From<flowforge_core::Error> for CliError {
    fn from(e: flowforge_core::Error) -> Self {
        CliError::usage(e)
    }
}

/// What a person can do about a library error, appended to its message: the libraries state
/// facts, the CLI knows its own commands and flags.
fn hint(error: &(dyn std::error::Error + 'static)) -> String {
    if let Some(e) = error.downcast_ref::<flowforge_session::Error>() {
        return session_hint(e);
    }
    if let Some(flowforge_remote::Error::Session(e)) =
        error.downcast_ref::<flowforge_remote::Error>()
    {
        return session_hint(e);
    }
    String::new()
}

fn session_hint(error: &flowforge_session::Error) -> String {
    use flowforge_session::Error as E;
    match error {
        E::NotInitialised { developer } => format!(" (run `flowforge dev init {developer}`)"),
        E::SessionActive { .. } => " (pass --replace to end it)".to_owned(),
        _ => String::new(),
    }
}

/// The exit code of a flowforge-session error: conflicts 3, input refused before anything was
/// written 2, anything else 1.
impl From<flowforge_session::Error> for CliError {
    fn from(e: flowforge_session::Error) -> Self {
        use flowforge_session::Error as E;
        match e {
            _ if e.is_conflict() => CliError::conflict(e),
            E::Core(_)
            | E::InvalidKey { .. }
            | E::InvalidSessionId { .. }
            | E::TooManyMinutes { .. }
            | E::NotInitialised { .. } => CliError::usage(e),
            _ => CliError::failure(e),
        }
    }
}

/// The exit code of a flowforge-git error: no repository (or a bare one) at the path given is
/// bad input, 2; anything else 1.
impl From<flowforge_git::Error> for CliError {
    fn from(e: flowforge_git::Error) -> Self {
        use flowforge_git::Error as E;
        match e {
            E::NotARepository { .. } | E::Bare { .. } => CliError::usage(e),
            other => CliError::failure(other),
        }
    }
}

impl From<flowforge_index::Error> for CliError {
    fn from(e: flowforge_index::Error) -> Self {
        use flowforge_index::Error as E;
        match e {
            E::UnknownTimeZone { .. } | E::UnknownPeriod { .. } | E::UnknownFormat { .. } => {
                CliError::usage(e)
            }
            other => CliError::failure(other),
        }
    }
}

/// The exit code of a flowforge-remote error: conflicts 3, a remote or machine name refused
/// before anything was fetched or pushed 2, anything else 1.
impl From<flowforge_remote::Error> for CliError {
    fn from(e: flowforge_remote::Error) -> Self {
        use flowforge_remote::Error as E;
        match e {
            _ if e.is_conflict() => CliError::conflict(e),
            E::UnknownRemote { .. } | E::InvalidName { .. } => CliError::usage(e),
            _ => CliError::failure(e),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::failure(e)
    }
}

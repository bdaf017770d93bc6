//! Every command writes into an [`Output`] (its stdout and stderr bytes) instead of printing;
//! [`finish`] writes it to the real streams in one place.
//!
//! That one place is where a closed pipe (`flowforge who x | head -0`) ends the output quietly,
//! as git and ripgrep do, and where a full disk (`> /dev/full`) becomes a one-line error and
//! exit 1 instead of a panic. It is also what lets the daemon answer for a command: the same
//! function fills the same buffer in either process.

use std::{
    io::{self, Write},
    process::ExitCode,
};

/// The bytes a command wrote to stdout and stderr.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// `writeln!` into an [`Output`]'s stdout (writing into memory cannot fail).
macro_rules! outln {
    ($o:expr) => {{
        $o.stdout.push(b'\n');
    }};
    ($o:expr, $($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($o.stdout, $($arg)*);
    }};
}

/// `writeln!` into an [`Output`]'s stderr (writing into memory cannot fail).
macro_rules! errln {
    ($o:expr, $($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($o.stderr, $($arg)*);
    }};
}

pub(crate) use {errln, outln};

/// What writing to the real stdout came to.
pub(crate) enum Written {
    /// Everything was written.
    All,
    /// The reader went away (a closed pipe): stop writing, quietly.
    PipeClosed,
}

/// Writes `bytes` to the real stdout and flushes it.
///
/// # Errors
/// Any write error except a closed pipe (a full disk, an I/O error).
pub(crate) fn write_stdout(bytes: &[u8]) -> io::Result<Written> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(Written::All),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Written::PipeClosed),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to the real stderr; nothing can be done if that fails.
pub(crate) fn write_stderr(bytes: &[u8]) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(bytes).and_then(|()| err.flush());
}

/// Writes a command's output to the real streams and returns its exit code: stdout first,
/// then stderr. A closed stdout pipe is not an error (the exit code stays the command's); any
/// other stdout error is reported on one line and exits 1.
pub(crate) fn finish(output: &Output, code: u8) -> ExitCode {
    let code = match write_stdout(&output.stdout) {
        Ok(_) => code,
        Err(e) => {
            write_stderr(&output.stderr);
            write_stderr(format!("flowforge: error: cannot write the output: {e}\n").as_bytes());
            return ExitCode::from(1);
        }
    };
    write_stderr(&output.stderr);
    ExitCode::from(code)
}

//! The failure type of every command, and the exit code it maps to (DESIGN.md: 0 success,
//! 1 a failed check, 2 bad input or an unusable file).

/// A failure and the exit code it maps to.
pub struct Failure {
    /// The process's exit code.
    pub code: u8,
    /// What went wrong, with its context.
    pub error: anyhow::Error,
    /// Whether the message reports an error (`error: ` before it), or only what happened.
    pub is_error: bool,
}

impl Failure {
    /// Bad input or an unusable file: exit 2.
    pub fn input(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 2,
            error: error.into(),
            is_error: true,
        }
    }

    /// Valid input, but the work itself failed (a run diverged, a check failed): exit 1.
    pub fn failed(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 1,
            error: error.into(),
            is_error: true,
        }
    }

    /// Work stopped on the user's request (Ctrl-C): exit 1, as the work is unfinished, but
    /// the message is no error.
    pub fn stopped(message: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 1,
            error: message.into(),
            is_error: false,
        }
    }
}

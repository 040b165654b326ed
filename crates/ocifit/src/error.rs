//! How a command fails: an exit code (§8) and one line for stderr.

use std::fmt::Display;

#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    /// Exit 2: bad input or usage.
    pub fn bad(message: impl Display) -> Self {
        Failure { code: 2, message: one_line(message) }
    }
}

/// Errors are one short line: never echo megabytes of input back.
fn one_line(message: impl Display) -> String {
    let text = message.to_string().replace(['\n', '\r'], " ");
    const MAX: usize = 300;
    if text.len() <= MAX {
        return text;
    }
    let mut cut = MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

impl From<ocifit_source::SourceError> for Failure {
    fn from(e: ocifit_source::SourceError) -> Self {
        Failure::bad(e)
    }
}

/// 0, 1 or a [`Failure`].
pub type Outcome = Result<i32, Failure>;

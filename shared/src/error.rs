//! How callers react to an error, and how a handler reports one to Lambda.
//!
//! Every error type in this crate can say which [`ErrorKind`] it is. A
//! handler turns its error into a [`HandlerError`], whose `error_type` is the
//! stable name CloudWatch and the on-failure destination show.

use lambda_runtime::Diagnostic;

/// What the caller should do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The event or the configuration is wrong: retrying cannot help.
    InvalidInput,
    /// A resource named by the event or the configuration does not exist.
    NotFound,
    /// A transient condition (throttling, a 5xx, a timeout, a deployment in
    /// progress): the same event may succeed later.
    Retryable,
    /// Anything else: a bug, a permission missing, an AWS answer we did not
    /// expect. Not retried.
    Unexpected,
}

impl ErrorKind {
    /// The stable `errorType` reported to Lambda for this kind.
    pub fn error_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "InvalidInput",
            ErrorKind::NotFound => "NotFound",
            ErrorKind::Retryable => "Retryable",
            ErrorKind::Unexpected => "Unexpected",
        }
    }

    /// Whether Lambda's asynchronous retry (or a DLQ redrive) can help.
    pub fn is_retryable(self) -> bool {
        self == ErrorKind::Retryable
    }
}

impl ErrorKind {
    /// The kind of an invocation that acted on many resources (services,
    /// clusters) and failed for some: `Retryable` when any failure is,
    /// because a retry of the same event finishes that part while the parts
    /// already done are idempotent (redeploy-on-push skips a revision
    /// already rolled out, scheduled-scaling finds a capacity already set);
    /// otherwise the first failure's kind. `None` when nothing failed.
    ///
    /// The one rule for every batch: redeploy-on-push's summary and
    /// scheduled-scaling's both use it.
    pub fn of_batch(kinds: impl IntoIterator<Item = ErrorKind>) -> Option<ErrorKind> {
        let mut first = None;
        for kind in kinds {
            if kind.is_retryable() {
                return Some(ErrorKind::Retryable);
            }
            first.get_or_insert(kind);
        }
        first
    }
}

/// Implemented by every error type of this crate and of the functions.
pub trait Classify {
    /// Which kind of error this is.
    fn kind(&self) -> ErrorKind;
}

/// The error a handler returns to `lambda_runtime`: a kind and a message.
///
/// It converts into a [`Diagnostic`] whose `errorType` is the kind's stable
/// name (`InvalidInput`, `NotFound`, `Retryable`, `Unexpected`), so alarms and DLQ consumers can tell them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    error_type: &'static str,
    message: String,
}

impl HandlerError {
    /// Wraps any classified error.
    pub fn from_error<E: Classify + std::fmt::Display>(error: &E) -> Self {
        HandlerError {
            error_type: error.kind().error_type(),
            message: error.to_string(),
        }
    }

    /// The stable error type.
    pub fn error_type(&self) -> &'static str {
        self.error_type
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for HandlerError {}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic {
            error_type: error.error_type.to_owned(),
            error_message: error.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_retryable_when_any_failure_is() {
        use ErrorKind::*;
        let cases: [(&[ErrorKind], Option<ErrorKind>); 6] = [
            (&[], None),
            (&[Retryable], Some(Retryable)),
            (&[NotFound, Retryable], Some(Retryable)),
            (&[Unexpected, Retryable, NotFound], Some(Retryable)),
            (&[NotFound, Unexpected], Some(NotFound)),
            (&[InvalidInput], Some(InvalidInput)),
        ];
        for (kinds, expected) in cases {
            assert_eq!(
                ErrorKind::of_batch(kinds.iter().copied()),
                expected,
                "{kinds:?}"
            );
        }
    }

    struct Throttled;
    impl Classify for Throttled {
        fn kind(&self) -> ErrorKind {
            ErrorKind::Retryable
        }
    }
    impl std::fmt::Display for Throttled {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("failed to describe services in prod: throttled")
        }
    }

    #[test]
    fn diagnostic_carries_the_stable_error_type_and_message() {
        let diagnostic: Diagnostic = HandlerError::from_error(&Throttled).into();
        assert_eq!(diagnostic.error_type, "Retryable");
        assert_eq!(
            diagnostic.error_message,
            "failed to describe services in prod: throttled"
        );
    }

    #[test]
    fn only_retryable_is_retryable() {
        for (kind, retryable) in [
            (ErrorKind::InvalidInput, false),
            (ErrorKind::NotFound, false),
            (ErrorKind::Retryable, true),
            (ErrorKind::Unexpected, false),
        ] {
            assert_eq!(kind.is_retryable(), retryable, "{kind:?}");
        }
    }
}

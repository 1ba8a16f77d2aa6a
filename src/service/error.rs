//! What can go wrong talking to the service, in classes the reconcile acts on.

use std::time::Duration;

use super::protocol::Problem;
use super::signature::SecretError;
use crate::microsoft::http::TransportError;

/// A failed exchange with the service's ingestion endpoint.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The URL is neither https nor plain http on loopback.
    #[error("the ingestion URL must be https (plain http only on loopback)")]
    InsecureUrl,
    /// The ingestion credential cannot sign.
    #[error("{0}")]
    Credential(SecretError),
    /// No answer, after the retries.
    #[error("{0}")]
    Transport(TransportError),
    /// The service refused the signature: a wrong secret or a skewed clock.
    #[error("the service refused the signature ({reason})")]
    Unauthorized {
        /// The service's reason (`NoMatchingSignature`, `TimestampTooOld`, ...).
        reason: String,
    },
    /// The service does not know the tenant: register first.
    #[error("the service does not know the tenant")]
    NotRegistered,
    /// A sequence gap: the service expects another sequence.
    #[error("the service expects delivery {expected}")]
    Gap {
        /// The sequence the service expects.
        expected: u64,
    },
    /// The service is throttling or unavailable, after the retries.
    #[error("the service answered HTTP {status}")]
    Unavailable {
        /// The last status (429 or 5xx).
        status: u16,
        /// How long the service asked to wait.
        retry_after: Option<Duration>,
    },
    /// The service refused the request as it is (400, 413, 422, ...): not to be retried.
    #[error("the service refused the request (HTTP {status}): {title}")]
    Refused {
        /// The status.
        status: u16,
        /// The problem's title (the detail may quote data; it is not kept).
        title: String,
    },
    /// A 2xx answer that is not what the protocol says.
    #[error("the service's answer does not follow the protocol: {0}")]
    BadAnswer(String),
}

impl ServiceError {
    /// The class of an error answer.
    pub(super) fn from_answer(
        status: u16,
        retry_after: Option<Duration>,
        problem: Problem,
    ) -> Self {
        match status {
            401 => Self::Unauthorized {
                reason: problem.reason.unwrap_or_else(|| "unknown".into()),
            },
            404 => Self::NotRegistered,
            409 => match problem.expected {
                Some(expected) => Self::Gap { expected },
                None => Self::BadAnswer("a 409 without the expected sequence".into()),
            },
            429 | 500..=599 => Self::Unavailable {
                status,
                retry_after,
            },
            _ => Self::Refused {
                status,
                title: problem.title,
            },
        }
    }

    /// Whether trying again later may succeed without a human: the service or the network
    /// was unavailable.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transport(_) | Self::Unavailable { .. })
    }

    /// How long the service asked to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A stable PascalCase reason for conditions, Events and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InsecureUrl => "IngestionUrlInsecure",
            Self::Credential(_) => "IngestionCredentialInvalid",
            Self::Transport(_) => "ServiceUnreachable",
            Self::Unauthorized { .. } => "ServiceRefusedSignature",
            Self::NotRegistered => "TenantNotRegistered",
            Self::Gap { .. } => "DeliverySequenceGap",
            Self::Unavailable { .. } => "ServiceUnavailable",
            Self::Refused { .. } => "ServiceRefusedDelivery",
            Self::BadAnswer(_) => "ServiceAnswerInvalid",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_status_and_problem() {
        let problem = |reason: Option<&str>, expected: Option<u64>| Problem {
            title: "t".into(),
            detail: "d".into(),
            reason: reason.map(String::from),
            expected,
        };
        let wait = Some(Duration::from_secs(3));
        let cases: [(u16, Problem, &str, bool); 8] = [
            (
                401,
                problem(Some("TimestampTooOld"), None),
                "ServiceRefusedSignature",
                false,
            ),
            (404, problem(None, None), "TenantNotRegistered", false),
            (409, problem(None, Some(8)), "DeliverySequenceGap", false),
            (409, problem(None, None), "ServiceAnswerInvalid", false),
            (429, problem(None, None), "ServiceUnavailable", true),
            (503, problem(None, None), "ServiceUnavailable", true),
            (422, problem(None, None), "ServiceRefusedDelivery", false),
            (400, problem(None, None), "ServiceRefusedDelivery", false),
        ];
        for (status, problem, reason, transient) in cases {
            let e = ServiceError::from_answer(status, wait, problem);
            assert_eq!(e.reason(), reason, "{status}");
            assert_eq!(e.is_transient(), transient, "{status}");
        }
        let gap = ServiceError::from_answer(409, None, problem(None, Some(8)));
        assert!(matches!(gap, ServiceError::Gap { expected: 8 }));
        let throttled = ServiceError::from_answer(429, wait, problem(None, None));
        assert_eq!(throttled.retry_after(), wait);
    }
}

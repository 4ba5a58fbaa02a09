//! The e-mail outbox (メール送信待ち): when a message that could not be sent is tried again.
//! Messages are written in the same transaction as the change they tell of, and a worker sends
//! them; a relay that is down delays a message, it never loses one.

/// Minutes to wait after the `attempts`-th failed attempt before the next one; `None` once the
/// message has been tried often enough and is left for an administrator to send again. The
/// waits grow from a minute to eight hours, about sixteen hours in all, so that a relay down
/// overnight is caught up with in the morning.
pub fn retry_after_minutes(attempts: u32) -> Option<i64> {
    const WAITS: [i64; 9] = [1, 2, 5, 15, 30, 60, 120, 240, 480];
    let i = usize::try_from(attempts).ok()?.checked_sub(1)?;
    WAITS.get(i).copied()
}

/// The state of a message in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailStatus {
    /// Waiting to be sent, or to be tried again.
    Pending,
    Sent,
    /// Tried as often as [`retry_after_minutes`] allows; an administrator may send it again.
    Failed,
}

impl MailStatus {
    pub fn code(self) -> &'static str {
        match self {
            MailStatus::Pending => "pending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }

    pub fn from_code(code: &str) -> Option<MailStatus> {
        match code {
            "pending" => Some(MailStatus::Pending),
            "sent" => Some(MailStatus::Sent),
            "failed" => Some(MailStatus::Failed),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MailStatus::Pending => "送信待ち",
            MailStatus::Sent => "送信済み",
            MailStatus::Failed => "送信できませんでした",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_then_stop() {
        assert_eq!(retry_after_minutes(0), None, "nothing failed yet");
        assert_eq!(retry_after_minutes(1), Some(1));
        assert_eq!(retry_after_minutes(4), Some(15));
        assert_eq!(retry_after_minutes(9), Some(480));
        assert_eq!(retry_after_minutes(10), None);
        let total: i64 = (1..=9).filter_map(retry_after_minutes).sum();
        assert!((900..=1000).contains(&total), "{total} minutes");
    }

    #[test]
    fn status_codes_round_trip() {
        for s in [MailStatus::Pending, MailStatus::Sent, MailStatus::Failed] {
            assert_eq!(MailStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(MailStatus::from_code("x"), None);
    }
}

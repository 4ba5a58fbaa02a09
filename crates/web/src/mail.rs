//! Outgoing e-mail (メール送信) through lettre: SMTP with STARTTLS or implicit TLS (rustls) and
//! AUTH, as the relay's URL says. Nothing is sent inside a request: messages go to the outbox
//! (`tsunagu_store::outbox`) in the same transaction as the change they tell of, and the worker
//! here sends them, tries again after a failure and records the result.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::Notify;
use tsunagu_store::Db;
use tsunagu_store::audit::AuditCtx;
use tsunagu_store::outbox::{self, Mail};

use crate::config::WebConfig;

/// How long one conversation with the relay may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the worker looks for due messages when nobody wakes it.
const POLL_EVERY: Duration = Duration::from_secs(20);

/// Checks the relay URL: `smtp://host:port` (plain, as relays on a closed network are often
/// offered), `smtp://host:587?tls=required` (STARTTLS), `smtps://host:465` (implicit TLS);
/// `user:password@` before the host for SMTP AUTH.
pub fn check_relay_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
        return Err(
            "smtp://ホスト名:ポート または smtps://ホスト名:ポート の形で指定してください".into(),
        );
    }
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| {
        format!(
            "メールサーバーの指定「{}」を読み取れません: {e}",
            tsunagu_store::redact_url(url)
        )
    })?;
    // A password is never sent unencrypted: AUTH needs implicit TLS or STARTTLS required.
    let has_credentials = url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or("").contains('@'))
        .unwrap_or(false);
    let encrypted = url.starts_with("smtps://") || url.contains("tls=required");
    if has_credentials && !encrypted {
        return Err(
            "ユーザー名・パスワードを使うときは、smtps:// にするか、末尾に ?tls=required を付けて暗号化してください（パスワードを平文で送らないため）"
                .into(),
        );
    }
    Ok(())
}

/// Accepts a plain `local@domain` address only (no display name, nothing that could add a
/// header).
pub fn check_address(addr: &str) -> Result<(), String> {
    addr.parse::<lettre::Address>()
        .map(|_| ())
        .map_err(|_| format!("メールアドレス「{}」は使えません", addr.escape_debug()))
}

/// Sends e-mail through the configured relay.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// The mailer of the deployment, or `None` when no relay is configured.
    pub fn from_config(cfg: &WebConfig) -> Result<Option<Mailer>, String> {
        let url = cfg.smtp_url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        check_relay_url(url)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| e.to_string())?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let address = cfg
            .mail_from
            .trim()
            .parse::<lettre::Address>()
            .map_err(|_| {
                format!(
                    "mail_from「{}」はメールアドレスではありません",
                    cfg.mail_from
                )
            })?;
        Ok(Some(Mailer {
            transport,
            // Shown as the sender's name (差出人): the center's name.
            from: Mailbox::new(Some(cfg.center_name.clone()), address),
        }))
    }

    /// Sends one message of the outbox: plain text in UTF-8, base64, to all its recipients.
    pub async fn send(&self, mail: &Mail) -> Result<(), String> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(mail.subject.clone());
        for to in &mail.to {
            let address = to.parse::<lettre::Address>().map_err(|_| {
                format!(
                    "宛先「{}」はメールアドレスではありません",
                    to.escape_debug()
                )
            })?;
            builder = builder.to(Mailbox::new(None, address));
        }
        let message = builder
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .header(ContentTransferEncoding::Base64)
                    .body(mail.body.clone()),
            )
            .map_err(|e| format!("メールを組み立てられません: {e}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("メールサーバーに送れませんでした: {e}"))
    }
}

/// Sends every message that is due, one by one; returns how many went out. A message that
/// cannot be sent is left for later (or marked failed) with the reason, audited either way.
pub async fn deliver_due(db: &Db, mailer: &Mailer) -> tsunagu_store::Result<usize> {
    let ctx = AuditCtx::system("mail");
    let mut sent = 0;
    while let Some(mail) = outbox::take_due(db).await? {
        let span = tracing::info_span!("mail", id = %mail.id, kind = %mail.kind);
        let _enter = span.enter();
        match mailer.send(&mail).await {
            Ok(()) => {
                outbox::mark_sent(db, &ctx, &mail.id).await?;
                tracing::info!("mail sent");
                sent += 1;
            }
            Err(e) => {
                let status = outbox::mark_failed(db, &ctx, &mail.id, &e).await?;
                tracing::warn!(error = %e, status = status.code(), "mail not sent");
            }
        }
    }
    Ok(sent)
}

/// The outbox worker: sends what is due whenever `wake` is notified (a change put mail in the
/// outbox) and every [`POLL_EVERY`] otherwise (retries, other servers' mail).
pub async fn worker(db: Db, mailer: Mailer, wake: Arc<Notify>) {
    loop {
        if let Err(e) = deliver_due(&db, &mailer).await {
            tracing::error!(error = %e, "mail outbox not read");
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls_name_their_security() {
        assert!(check_relay_url("smtp://mail.example.lg.jp:25").is_ok());
        assert!(check_relay_url("smtp://mail.example.lg.jp:587?tls=required").is_ok());
        assert!(check_relay_url("smtps://user:secret@mail.example.lg.jp:465").is_ok());
        let bad = check_relay_url("http://mail.example.lg.jp").expect_err("not smtp");
        assert!(bad.contains("smtp://"), "{bad}");
        let hidden = check_relay_url("smtp://user:secret@").unwrap_err();
        assert!(!hidden.contains("secret"), "{hidden}");
        // A password only over TLS.
        let plain = check_relay_url("smtp://user:secret@mail.example.lg.jp:587")
            .expect_err("a password in the clear");
        assert!(plain.contains("tls=required"), "{plain}");
        assert!(check_relay_url("smtp://user:secret@mail.example.lg.jp:587?tls=required").is_ok());
    }

    #[test]
    fn only_plain_addresses_are_accepted() {
        assert!(check_address("tsunagu@pref.example.lg.jp").is_ok());
        for bad in [
            "",
            "no-at-sign",
            "a@b\r\nBcc: x@y",
            "名前 <a@b.jp>",
            "a@b.jp, c@d.jp",
        ] {
            assert!(check_address(bad).is_err(), "{bad:?}");
        }
    }
}

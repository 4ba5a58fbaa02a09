//! Outgoing e-mail (メール送信): a minimal SMTP client for reminders. It speaks plain SMTP without
//! authentication to a relay on the closed network, which is how relays on the LGWAN side are
//! normally offered; STARTTLS and SMTP AUTH are not supported.

use std::time::Duration;

use time::format_description::well_known::Rfc2822;
use time::{OffsetDateTime, UtcOffset};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::WebConfig;

/// Waiting longer than this for the relay to accept a connection or answer a command counts
/// as a failure.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// A reply line longer than this is not SMTP (RFC 5321 allows 512 octets).
const MAX_REPLY_LINE: u64 = 4096;

/// Why e-mail could not be sent. Messages are Japanese: they reach the logs and the settings
/// check at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("{0}")]
    Setting(String),
    #[error("メールアドレス「{0}」は使えません")]
    Address(String),
    #[error("メールサーバーに接続できません: {0}")]
    Connect(String),
    #[error("メールサーバーとの通信に失敗しました: {0}")]
    Io(String),
    #[error("メールサーバーの応答がありません（時間切れ）")]
    Timeout,
    #[error("メールサーバーが {command} を受け付けませんでした: {reply}")]
    Refused {
        command: &'static str,
        reply: String,
    },
    #[error("宛先がありません")]
    NoRecipient,
}

impl From<std::io::Error> for MailError {
    fn from(e: std::io::Error) -> Self {
        MailError::Io(e.to_string())
    }
}

/// The mail relay named by `smtp://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    pub host: String,
    pub port: u16,
}

impl Relay {
    pub fn parse(url: &str) -> Result<Relay, MailError> {
        let Some(rest) = url.strip_prefix("smtp://") else {
            return Err(MailError::Setting(
                "smtp://ホスト名:ポート の形で指定してください（smtps・STARTTLS には対応していません）"
                    .into(),
            ));
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('@') {
            return Err(MailError::Setting(
                "SMTP の認証には対応していません。認証なしで中継できるサーバーを指定してください"
                    .into(),
            ));
        }
        let (host, port) = match rest.strip_prefix('[') {
            // An IPv6 address: smtp://[2001:db8::25]:25
            Some(v6) => match v6.split_once(']') {
                Some((h, "")) => (h, None),
                Some((h, p)) => (h, Some(p.strip_prefix(':').unwrap_or(p))),
                None => ("", None),
            },
            None => match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            },
        };
        let port = match port {
            None => 25,
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                MailError::Setting(format!("ポート番号「{p}」が正しくありません"))
            })?,
        };
        if host.is_empty()
            || host
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        {
            return Err(MailError::Setting(format!(
                "「{url}」にメールサーバーのホスト名がありません"
            )));
        }
        Ok(Relay {
            host: host.to_string(),
            port,
        })
    }
}

/// Accepts a plain `local@domain` address only. CR, LF and other control characters would let
/// a stored address add SMTP commands or mail headers, so they are refused, as are the
/// characters that delimit addresses.
pub fn check_address(addr: &str) -> Result<(), MailError> {
    let bad = || MailError::Address(addr.escape_debug().to_string());
    if addr.is_empty()
        || addr.len() > 254
        || addr
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "<>,;\"()[]\\".contains(c))
    {
        return Err(bad());
    }
    match addr.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !local.contains('@') =>
        {
            Ok(())
        }
        _ => Err(bad()),
    }
}

/// One e-mail: plain text, UTF-8.
#[derive(Debug, Clone)]
pub struct Message {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// Sends e-mail through the configured relay.
#[derive(Debug, Clone)]
pub struct Mailer {
    relay: Relay,
    from: String,
    /// Shown as the sender's name (差出人), e.g. the center's name.
    from_name: String,
    /// Sending stops at this much time so that the request that asked for it still answers.
    budget: Duration,
}

impl Mailer {
    /// The mailer of the deployment, or `None` when no relay is configured.
    pub fn from_config(cfg: &WebConfig) -> Result<Option<Mailer>, MailError> {
        if cfg.smtp_url.trim().is_empty() {
            return Ok(None);
        }
        let relay = Relay::parse(cfg.smtp_url.trim())?;
        let from = cfg.mail_from.trim().to_string();
        check_address(&from)?;
        // Two thirds of the request timeout: the rest is for the database work around it.
        let budget = Duration::from_secs(cfg.request_timeout_secs.max(3)) * 2 / 3;
        Ok(Some(Mailer {
            relay,
            from,
            from_name: cfg.center_name.clone(),
            budget,
        }))
    }

    /// Sends `messages` over one connection, in order; the result of each, in the same order.
    /// A recipient the relay refuses is skipped; a message refused as a whole does not stop the
    /// others; once the connection fails or the time is up, the remaining ones fail too.
    pub async fn send_all(&self, messages: &[Message]) -> Vec<Result<(), MailError>> {
        if messages.is_empty() {
            return Vec::new();
        }
        let deadline = Instant::now() + self.budget;
        let mut results = Vec::with_capacity(messages.len());
        let mut session = match Session::open(&self.relay, &self.from, deadline).await {
            Ok(s) => s,
            Err(e) => {
                results.resize(messages.len(), Err(e));
                return results;
            }
        };
        let mut broken: Option<MailError> = None;
        for m in messages {
            if let Some(e) = &broken {
                results.push(Err(e.clone()));
                continue;
            }
            let text = format_message(
                &self.from,
                &self.from_name,
                &m.to,
                &m.subject,
                &m.body,
                tsunagu_store::clock::now(),
                &message_id(&self.from),
            );
            let r = session.transaction(&self.from, &m.to, &text).await;
            if let Err(e) = &r {
                match e {
                    MailError::Refused { .. } | MailError::NoRecipient => {
                        // Starts the next message afresh on the same connection.
                        if let Err(e) = session.command("RSET", "RSET", &[250]).await {
                            broken = Some(e);
                        }
                    }
                    other => broken = Some(other.clone()),
                }
            }
            results.push(r);
        }
        if broken.is_none() {
            session.quit().await;
        }
        results
    }
}

/// One SMTP connection.
struct Session {
    stream: BufReader<TcpStream>,
    deadline: Instant,
}

impl Session {
    async fn open(relay: &Relay, from: &str, deadline: Instant) -> Result<Session, MailError> {
        let step = deadline.min(Instant::now() + STEP_TIMEOUT);
        let tcp = timeout_at(step, TcpStream::connect((relay.host.as_str(), relay.port)))
            .await
            .map_err(|_| MailError::Timeout)?
            .map_err(|e| MailError::Connect(format!("{}:{}: {e}", relay.host, relay.port)))?;
        let mut s = Session {
            stream: BufReader::new(tcp),
            deadline,
        };
        s.expect("接続", &[220]).await?;
        // EHLO wants this client's name; the sender's domain is the nearest one it has.
        let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
        if s.command("EHLO", &format!("EHLO {domain}"), &[250])
            .await
            .is_err()
        {
            s.command("HELO", &format!("HELO {domain}"), &[250]).await?;
        }
        Ok(s)
    }

    /// MAIL FROM, RCPT TO for each recipient, DATA.
    async fn transaction(
        &mut self,
        from: &str,
        to: &[String],
        text: &str,
    ) -> Result<(), MailError> {
        self.command("MAIL FROM", &format!("MAIL FROM:<{from}>"), &[250])
            .await?;
        let mut accepted = 0;
        for rcpt in to {
            if let Err(e) = check_address(rcpt) {
                tracing::warn!(error = %e, "mail recipient skipped");
                continue;
            }
            match self
                .command("RCPT TO", &format!("RCPT TO:<{rcpt}>"), &[250, 251])
                .await
            {
                Ok(()) => accepted += 1,
                Err(e @ MailError::Refused { .. }) => {
                    tracing::warn!(error = %e, "mail recipient refused by the relay");
                }
                Err(e) => return Err(e),
            }
        }
        if accepted == 0 {
            return Err(MailError::NoRecipient);
        }
        self.command("DATA", "DATA", &[354]).await?;
        let mut data = dot_stuff(text);
        data.push_str(".\r\n");
        self.write(&data).await?;
        self.expect("本文", &[250]).await
    }

    async fn quit(&mut self) {
        // The message is already accepted; a relay that hangs up without 221 changes nothing.
        let _ = self.command("QUIT", "QUIT", &[221]).await;
    }

    async fn command(
        &mut self,
        name: &'static str,
        line: &str,
        ok: &[u16],
    ) -> Result<(), MailError> {
        self.write(&format!("{line}\r\n")).await?;
        self.expect(name, ok).await
    }

    async fn write(&mut self, text: &str) -> Result<(), MailError> {
        let step = self.deadline.min(Instant::now() + STEP_TIMEOUT);
        timeout_at(step, async {
            let s = self.stream.get_mut();
            s.write_all(text.as_bytes()).await?;
            s.flush().await
        })
        .await
        .map_err(|_| MailError::Timeout)??;
        Ok(())
    }

    /// Reads one reply (all its lines) and checks its code.
    async fn expect(&mut self, name: &'static str, ok: &[u16]) -> Result<(), MailError> {
        let step = self.deadline.min(Instant::now() + STEP_TIMEOUT);
        let reply = timeout_at(step, self.read_reply())
            .await
            .map_err(|_| MailError::Timeout)??;
        let code = reply.get(..3).and_then(|c| c.parse::<u16>().ok());
        match code {
            Some(c) if ok.contains(&c) => Ok(()),
            _ => Err(MailError::Refused {
                command: name,
                reply: reply.trim_end().chars().take(200).collect(),
            }),
        }
    }

    async fn read_reply(&mut self) -> Result<String, MailError> {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = (&mut self.stream)
                .take(MAX_REPLY_LINE)
                .read_line(&mut line)
                .await?;
            if n == 0 {
                return Err(MailError::Io("接続が切れました".into()));
            }
            all.push_str(&line);
            // `250-…` continues a multi-line reply; `250 …` or a bare `250` ends it.
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(all);
            }
        }
    }
}

/// A unique Message-ID in the sender's domain.
fn message_id(from: &str) -> String {
    let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
    format!("<{}@{domain}>", uuid::Uuid::now_v7().simple())
}

/// The message as RFC 5322 text with CRLF line ends: the subject and the sender's name as
/// RFC 2047 encoded words, the body as UTF-8 in base64.
pub fn format_message(
    from: &str,
    from_name: &str,
    to: &[String],
    subject: &str,
    body: &str,
    date: OffsetDateTime,
    message_id: &str,
) -> String {
    let jst = UtcOffset::from_hms(9, 0, 0).unwrap_or(UtcOffset::UTC);
    let date = date
        .to_offset(jst)
        .format(&Rfc2822)
        .unwrap_or_else(|_| date.unix_timestamp().to_string());
    let from_header = if from_name.trim().is_empty() {
        format!("<{from}>")
    } else {
        // Folded: an encoded name alone may fill most of a line.
        format!("{}\r\n <{from}>", encode_words(from_name))
    };
    let mut out = String::new();
    out.push_str(&format!("Date: {date}\r\n"));
    out.push_str(&format!("From: {from_header}\r\n"));
    out.push_str(&format!("To: {}\r\n", to.join(",\r\n ")));
    out.push_str(&format!("Subject: {}\r\n", encode_words(subject)));
    out.push_str(&format!("Message-ID: {message_id}\r\n"));
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str("Content-Type: text/plain; charset=UTF-8\r\n");
    out.push_str("Content-Transfer-Encoding: base64\r\n");
    out.push_str("\r\n");
    let body = body.replace("\r\n", "\n").replace('\n', "\r\n");
    let encoded = base64(body.as_bytes());
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push_str("\r\n");
    }
    out
}

/// `text` as RFC 2047 `=?UTF-8?B?…?=` words of at most 64 characters each, folded onto
/// continuation lines; characters are never split between words.
fn encode_words(text: &str) -> String {
    // 39 bytes make 52 base64 characters, a 64-character word: with `Subject: ` in front the
    // line stays within the 76 that RFC 2047 allows for lines holding encoded words.
    const MAX_BYTES: usize = 39;
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - start > MAX_BYTES {
            words.push(&text[start..end]);
            start = i;
        }
        end = i + c.len_utf8();
    }
    if start < text.len() || words.is_empty() {
        words.push(&text[start..]);
    }
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", base64(w.as_bytes())))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// DATA as SMTP sends it: CRLF line ends, a line starting with "." gets another in front so
/// the relay does not take it for the end of the message (RFC 5321 §4.5.2), ending with CRLF.
pub fn dot_stuff(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_base64(s: &str) -> Vec<u8> {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in s.bytes() {
            let Some(v) = ALPHABET.iter().position(|a| *a == c) else {
                continue;
            };
            bits = (bits << 6) | v as u32;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
            }
        }
        out
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }

    #[test]
    fn lines_starting_with_a_dot_are_stuffed() {
        assert_eq!(dot_stuff("a\r\n.\r\n..b\nc"), "a\r\n..\r\n...b\r\nc\r\n");
        assert_eq!(dot_stuff(".only\r\n"), "..only\r\n");
        // A body line that is a lone dot can no longer end the DATA early.
        assert!(!dot_stuff("x\r\n.\r\ny").contains("\r\n.\r\n"));
    }

    #[test]
    fn subject_and_sender_are_encoded_words_and_the_body_is_base64() {
        let date = OffsetDateTime::from_unix_timestamp(1_767_225_600)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let subject = "【督促】令和8年度 医療的ケア児の状況把握調査（令和8年7月31日まで）";
        let body = "盛岡市 ご担当者様\n\n.提出期限は令和8年7月31日です。";
        let text = format_message(
            "tsunagu@pref.example.lg.jp",
            "岩手県医療的ケア児支援センター",
            &["a@example.lg.jp".to_string(), "b@example.lg.jp".to_string()],
            subject,
            body,
            date,
            "<x@pref.example.lg.jp>",
        );
        let (head, coded_body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(
            head.starts_with("Date: Thu, 01 Jan 2026 09:00:00 +0900\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nFrom: =?UTF-8?B?"));
        assert!(head.contains("\r\nTo: a@example.lg.jp,\r\n b@example.lg.jp\r\n"));
        assert!(head.contains("\r\nMessage-ID: <x@pref.example.lg.jp>\r\n"));
        assert!(head.contains("\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
        assert!(head.contains("\r\nContent-Transfer-Encoding: base64"));
        // Headers are ASCII and no line exceeds 76 characters.
        assert!(text.is_ascii());
        assert!(text.split("\r\n").all(|l| l.len() <= 76), "{text}");
        // The subject's words decode back to the subject.
        let subject_header: String = head
            .split("\r\n")
            .skip_while(|l| !l.starts_with("Subject: "))
            .take_while(|l| l.starts_with("Subject: ") || l.starts_with(' '))
            .collect();
        let decoded: Vec<u8> = subject_header
            .split("=?UTF-8?B?")
            .skip(1)
            .flat_map(|w| decode_base64(w.split("?=").next().unwrap_or("")))
            .collect();
        assert_eq!(String::from_utf8_lossy(&decoded), subject);
        let plain = decode_base64(coded_body);
        assert_eq!(String::from_utf8_lossy(&plain), body.replace('\n', "\r\n"));
    }

    #[test]
    fn encoded_words_never_split_a_character() {
        let long = "あ".repeat(40);
        let words = encode_words(&long);
        assert!(words.split("\r\n ").all(|w| w.len() <= 64));
        let back: Vec<u8> = words
            .split("\r\n ")
            .flat_map(|w| {
                let inner = w.trim_start_matches("=?UTF-8?B?").trim_end_matches("?=");
                let part = decode_base64(inner);
                assert!(std::str::from_utf8(&part).is_ok());
                part
            })
            .collect();
        assert_eq!(String::from_utf8_lossy(&back), long);
    }

    #[test]
    fn addresses_with_line_breaks_are_refused() {
        assert!(check_address("office@city.morioka.example.lg.jp").is_ok());
        for bad in [
            "",
            "a@b\r\nRCPT TO:<x@y>",
            "a@b\nBcc: x@y",
            "no-at-sign",
            "@example.jp",
            "a@",
            "a b@example.jp",
            "<a@example.jp>",
            "a@b@c",
        ] {
            assert!(check_address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn relay_urls() {
        assert_eq!(
            Relay::parse("smtp://mail.example.lg.jp:25"),
            Ok(Relay {
                host: "mail.example.lg.jp".into(),
                port: 25
            })
        );
        assert_eq!(
            Relay::parse("smtp://10.0.0.25"),
            Ok(Relay {
                host: "10.0.0.25".into(),
                port: 25
            })
        );
        assert_eq!(
            Relay::parse("smtp://[2001:db8::25]:587"),
            Ok(Relay {
                host: "2001:db8::25".into(),
                port: 587
            })
        );
        assert!(Relay::parse("smtps://mail.example.lg.jp").is_err());
        assert!(Relay::parse("smtp://user:pass@mail.example.lg.jp").is_err());
        assert!(Relay::parse("smtp://mail.example.lg.jp:x").is_err());
        assert!(Relay::parse("smtp://").is_err());
    }
}

//! A local SMTP sink for tests: speaks the real protocol (RFC 5321: greeting, EHLO/HELO, MAIL,
//! RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) on 127.0.0.1, one thread per connection, and
//! keeps every message it accepted. No TLS, no authentication: clients connect with `smtp://`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One accepted message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mail {
    /// The `MAIL FROM` address.
    pub from: String,
    /// The `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The message (headers and body) as sent, dot-unstuffed, CRLF line ends.
    pub data: String,
}

/// The sink; it stops accepting when dropped (the listener thread ends with the process).
pub struct SmtpSink {
    port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    /// Starts the sink on a free port of 127.0.0.1.
    pub fn start() -> std::io::Result<SmtpSink> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&mails);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    // A client that goes away mid-session leaves nothing behind.
                    let _ = session(stream, &shared);
                });
            }
        });
        Ok(SmtpSink { port, mails })
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages accepted so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn session(stream: TcpStream, mails: &Mutex<Vec<Mail>>) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    reply("220 harbor-testkit ESMTP sink")?;
    let mut mail = Mail::default();
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => reply("250-harbor-testkit\r\n250-8BITMIME\r\n250 SMTPUTF8")?,
            "HELO" => reply("250 harbor-testkit")?,
            "MAIL" => {
                mail = Mail {
                    from: address(command),
                    ..Mail::default()
                };
                reply("250 OK")?;
            }
            "RCPT" if mail.from.is_empty() => reply("503 MAIL first")?,
            "RCPT" => {
                mail.to.push(address(command));
                reply("250 OK")?;
            }
            "DATA" if mail.to.is_empty() => reply("503 RCPT first")?,
            "DATA" => {
                reply("354 end with <CRLF>.<CRLF>")?;
                loop {
                    line.clear();
                    if input.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    // Dot-unstuffing: a leading "." was doubled by the client.
                    mail.data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                mails
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(std::mem::take(&mut mail));
                reply("250 OK queued")?;
            }
            "RSET" => {
                mail = Mail::default();
                reply("250 OK")?;
            }
            "NOOP" => reply("250 OK")?,
            "QUIT" => {
                reply("221 bye")?;
                return Ok(());
            }
            _ => reply("502 command not implemented")?,
        }
    }
}

/// The address of `MAIL FROM:<a@b>` or `RCPT TO:<a@b>` (parameters after it ignored).
fn address(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(a, _)| a.to_owned())
        .unwrap_or_default()
}

//! Postgres errors to [`DestinationError`], classified transient or terminal in one place.

use harbor_core::destination::DestinationError;
use postgres::error::SqlState;

/// Whether an error means the connection is gone or the server is (re)starting, so reconnecting and
/// trying again may succeed.
pub fn is_transient(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let c = code.code();
        return c.starts_with("08") // connection exception
            || code == &SqlState::ADMIN_SHUTDOWN
            || code == &SqlState::CRASH_SHUTDOWN
            || code == &SqlState::CANNOT_CONNECT_NOW
            || code == &SqlState::T_R_SERIALIZATION_FAILURE
            || code == &SqlState::T_R_DEADLOCK_DETECTED
            || code == &SqlState::LOCK_NOT_AVAILABLE
            || code == &SqlState::TOO_MANY_CONNECTIONS;
    }
    // No SQLSTATE: an IO error (refused, reset, timeout) or a TLS/protocol failure.
    let text = full_text(e);
    text.contains("onnection refused")
        || text.contains("onnection reset")
        || text.contains("roken pipe")
        || text.contains("timed out")
        || text.contains("unexpected EOF")
        || text.contains("connection closed")
        || text.contains("error communicating with the server")
}

fn full_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

/// Whether a destination error is a lock wait that gave up (`lock_timeout`, SQLSTATE 55P03): the
/// transaction rolled back and trying again later may succeed.
pub fn is_lock_timeout(e: &DestinationError) -> bool {
    e.message.contains("(55P03)")
}

/// Converts a driver error, naming what was being done and where (never the password).
pub fn pg_err(context: impl std::fmt::Display, target: &str, e: postgres::Error) -> DestinationError {
    let detail = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => full_text(&e),
    };
    let mut d = DestinationError::new(format!("{context} ({target}): {detail}"));
    let code = e.code().cloned();
    if code == Some(SqlState::INVALID_PASSWORD) || code == Some(SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
    {
        d = d.hint(
            "check the user name and password in the destination URL (percent-encode @ : / in passwords)",
        );
    } else if code == Some(SqlState::INVALID_CATALOG_NAME) {
        d = d.hint("create the database first, or fix its name in the destination URL");
    } else if code == Some(SqlState::INSUFFICIENT_PRIVILEGE) {
        d = d.hint("the user needs CREATE on the schema (or choose another with ?schema=...)");
    } else if detail.contains("failed to lookup address") || detail.contains("Name or service not known") {
        d = d.hint(
            "the host name does not resolve: check the host in the destination URL and your network/DNS",
        );
    } else if target.contains("@%2F") && detail.contains("No such file or directory") {
        d = d.hint(
            "no server socket in that directory: is the server running, and are the socket directory and \
             port right (the socket is <directory>/.s.PGSQL.<port>)?",
        );
    } else if detail.contains("onnection refused") {
        d = d.hint("nothing listens on that host and port: is the server running, and is the port right?");
    } else if detail.contains("TLS") || detail.contains("tls") || detail.contains("certificate") {
        d = d.hint(
            "TLS failed: try sslmode=require (no certificate check) or sslmode=disable for a local server",
        );
    } else if detail.contains("row is too big") || code == Some(SqlState::TOO_MANY_COLUMNS) {
        d = d.hint(
            "a Postgres row must fit one 8 KB page, which 400 columns always do: keep the column budget \
             ([load] max_columns, [tables.X] max_columns) at 400 or less so wider objects go to one JSON \
             column; a table that is already wider keeps its columns and must be recreated",
        );
    } else if code == Some(SqlState::DUPLICATE_PSTATEMENT) || detail.contains("prepared statement") {
        d = d.hint("behind a transaction pooler (Supabase port 6543) add ?pooler=transaction to the URL");
    }
    if is_transient(&e) {
        d = d.transient();
    }
    d.source(e)
}

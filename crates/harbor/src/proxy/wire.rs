//! What goes over the socket: length-prefixed JSON frames, one request and one answer at a time.
//!
//! Every frame is a 4-byte big-endian length and that many bytes of JSON. A connection starts with
//! [`Request::Hello`], naming the database file the client means; the server refuses any other
//! file. Answers are `Ok(value)` (the method's result as JSON) or `Err(WireError)`, which carries a
//! destination error's message, hint and retry class unchanged, so the CLI prints what it would
//! print had it opened the file itself.

use std::io::{Read, Write};
use std::path::PathBuf;

use harbor_core::destination::{DestinationError, IndexInfo, LoadRecord, LoadReport};
use harbor_core::package::PackageManifest;
use serde::{Deserialize, Serialize};

/// Version of this protocol; a server of another version refuses the connection.
pub const VERSION: u32 = 1;

/// The largest frame either side accepts (a schema or a page of query rows is far smaller).
const MAX_FRAME: usize = 1 << 30;

/// One call.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// First frame of a connection: the canonical path of the database file, and the protocol.
    Hello {
        /// Canonical path of the DuckDB file.
        path: PathBuf,
        /// [`VERSION`] of the client.
        version: u32,
    },
    /// `Destination::stored_schema`.
    StoredSchema { pipeline: String },
    /// `Destination::stored_state`.
    StoredState { pipeline: String },
    /// `Destination::is_loaded`.
    IsLoaded { load_id: String },
    /// `Destination::load`: the package directory (absolute) and its manifest.
    Load {
        dir: PathBuf,
        manifest: Box<PackageManifest>,
    },
    /// `Destination::loads`.
    Loads { pipeline: Option<String>, limit: usize },
    /// `Destination::content_hashes` of the merge tables of a schema.
    ContentHashes { schema: Box<harbor_core::Schema> },
    /// `Destination::table_counts`.
    TableCounts,
    /// `Destination::indexes`.
    Indexes,
    /// `Destination::query_json`.
    QueryJson { sql: String },
    /// `Destination::execute_sql`.
    ExecuteSql { sql: String },
    /// `Destination::export_table` into a file (absolute path).
    ExportTable {
        table: String,
        filter: Option<String>,
        out: PathBuf,
    },
    /// `SqlStore::batch`.
    Batch { sql: String, what: String },
    /// `SqlStore::execute`.
    Execute {
        sql: String,
        params: Vec<WireValue>,
        what: String,
    },
    /// `SqlStore::query`.
    Query {
        sql: String,
        params: Vec<WireValue>,
        what: String,
    },
    /// `SqlStore::transaction`.
    Transaction {
        stmts: Vec<(String, Vec<WireValue>)>,
        what: String,
    },
}

impl Request {
    /// Whether the call may change data (the server's response cache is then out of date).
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Request::Load { .. }
                | Request::ExecuteSql { .. }
                | Request::Batch { .. }
                | Request::Execute { .. }
                | Request::Transaction { .. }
        )
    }
}

/// An error as it crosses the socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireError {
    /// The message (for a destination error, with its source's text folded in).
    pub message: String,
    /// What the user can do.
    pub hint: Option<String>,
    /// Whether a retry may succeed.
    pub transient: bool,
}

impl From<DestinationError> for WireError {
    fn from(e: DestinationError) -> Self {
        // The source's text is usually part of the message already; keep it when it is not.
        let mut message = e.message.clone();
        if let Some(src) = &e.source {
            let s = src.to_string();
            if !message.contains(&s) {
                message = format!("{message}: {s}");
            }
        }
        Self {
            message,
            hint: e.hint,
            transient: e.transient,
        }
    }
}

impl From<WireError> for DestinationError {
    fn from(e: WireError) -> Self {
        let mut d = DestinationError::new(e.message);
        d.hint = e.hint;
        d.transient = e.transient;
        d
    }
}

/// The answer to one call.
pub type Answer = Result<serde_json::Value, WireError>;

/// `harbor_ops::store::Value` on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WireValue {
    /// NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float, as its bits (JSON has no NaN or infinity).
    Float(u64),
    /// Text.
    Text(String),
}

impl From<&harbor_ops::store::Value> for WireValue {
    fn from(v: &harbor_ops::store::Value) -> Self {
        use harbor_ops::store::Value;
        match v {
            Value::Null => WireValue::Null,
            Value::Bool(b) => WireValue::Bool(*b),
            Value::Int(i) => WireValue::Int(*i),
            Value::Float(f) => WireValue::Float(f.to_bits()),
            Value::Text(s) => WireValue::Text(s.clone()),
        }
    }
}

impl From<WireValue> for harbor_ops::store::Value {
    fn from(v: WireValue) -> Self {
        use harbor_ops::store::Value;
        match v {
            WireValue::Null => Value::Null,
            WireValue::Bool(b) => Value::Bool(b),
            WireValue::Int(i) => Value::Int(i),
            WireValue::Float(bits) => Value::Float(f64::from_bits(bits)),
            WireValue::Text(s) => Value::Text(s),
        }
    }
}

/// [`LoadReport`] on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireReport {
    load_id: String,
    rows: Vec<(String, u64)>,
    schema_changes: Vec<String>,
    already_loaded: bool,
}

impl From<LoadReport> for WireReport {
    fn from(r: LoadReport) -> Self {
        Self {
            load_id: r.load_id,
            rows: r.rows,
            schema_changes: r.schema_changes,
            already_loaded: r.already_loaded,
        }
    }
}

impl From<WireReport> for LoadReport {
    fn from(r: WireReport) -> Self {
        Self {
            load_id: r.load_id,
            rows: r.rows,
            schema_changes: r.schema_changes,
            already_loaded: r.already_loaded,
        }
    }
}

/// [`LoadRecord`] on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireRecord {
    load_id: String,
    pipeline: String,
    inserted_at: String,
    rows: u64,
    schema_version: u64,
    source: String,
}

impl From<LoadRecord> for WireRecord {
    fn from(r: LoadRecord) -> Self {
        Self {
            load_id: r.load_id,
            pipeline: r.pipeline,
            inserted_at: r.inserted_at,
            rows: r.rows,
            schema_version: r.schema_version,
            source: r.source,
        }
    }
}

impl From<WireRecord> for LoadRecord {
    fn from(r: WireRecord) -> Self {
        Self {
            load_id: r.load_id,
            pipeline: r.pipeline,
            inserted_at: r.inserted_at,
            rows: r.rows,
            schema_version: r.schema_version,
            source: r.source,
        }
    }
}

/// [`IndexInfo`] on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireIndex {
    table: String,
    name: String,
    definition: String,
    purpose: Option<String>,
}

impl From<IndexInfo> for WireIndex {
    fn from(i: IndexInfo) -> Self {
        Self {
            table: i.table,
            name: i.name,
            definition: i.definition,
            purpose: i.purpose,
        }
    }
}

impl From<WireIndex> for IndexInfo {
    fn from(i: WireIndex) -> Self {
        Self {
            table: i.table,
            name: i.name,
            definition: i.definition,
            purpose: i.purpose,
        }
    }
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    let body = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|n| (*n as usize) <= MAX_FRAME)
        .ok_or_else(|| std::io::Error::other(format!("frame of {} bytes is too large", body.len())))?;
    w.write_all(&len.to_be_bytes())?;
    w.write_all(&body)?;
    w.flush()
}

/// Reads one frame; `Ok(None)` when the peer closed the connection between frames.
pub fn read_frame<T: serde::de::DeserializeOwned>(r: &mut impl Read) -> std::io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "frame of {len} bytes is too large"
        )));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_floats_keep_every_bit() {
        let req = Request::Execute {
            sql: "SELECT $1".into(),
            params: vec![
                WireValue::from(&harbor_ops::store::Value::Float(f64::NAN)),
                WireValue::from(&harbor_ops::store::Value::Float(-0.0)),
                WireValue::Text("ü\"x".into()),
            ],
            what: "t".into(),
        };
        let mut buf = Vec::new();
        write_frame(&mut buf, &req).expect("test");
        write_frame(&mut buf, &Request::TableCounts).expect("test");
        let mut r = buf.as_slice();
        let Some(Request::Execute { params, .. }) = read_frame::<Request>(&mut r).expect("test") else {
            panic!("not an execute")
        };
        let back: Vec<harbor_ops::store::Value> = params.into_iter().map(Into::into).collect();
        assert!(matches!(back[0], harbor_ops::store::Value::Float(f) if f.is_nan()));
        assert!(matches!(back[1], harbor_ops::store::Value::Float(f) if f.is_sign_negative()));
        assert!(matches!(
            read_frame::<Request>(&mut r).expect("test"),
            Some(Request::TableCounts)
        ));
        assert!(read_frame::<Request>(&mut r).expect("test").is_none());
    }

    #[test]
    fn a_truncated_frame_is_an_error_not_an_end() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &Request::Indexes).expect("test");
        buf.truncate(buf.len() - 1);
        assert!(read_frame::<Request>(&mut buf.as_slice()).is_err());
    }
}

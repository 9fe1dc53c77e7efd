//! The data path: a unit of work (a transaction, or the reads of a page) is one closure
//! that runs start to finish beside the connection it uses. It is one hand-off, not one
//! round trip per statement.
//!
//! - **SQLite** (rusqlite): writes queue for one thread that owns the only write
//!   connection. It takes every unit of work queued meanwhile into one transaction
//!   (group commit), each under a savepoint, so that one failing rolls back alone, and
//!   answers each only once the shared COMMIT is durable. Reads run where they are
//!   asked, on a connection taken from a small pool: an indexed read is a few
//!   microseconds, less than a hand-off to another thread would cost.
//! - **PostgreSQL** (sqlx): a unit of work runs on tokio's blocking pool, holding one
//!   pooled connection; each statement is a network round trip there anyway.
//!
//! Either way the closure sees a [`Tx`], and runs to its end even when the request that
//! asked for it is gone (a client hanging up never leaves a transaction half done).

use super::{Backend, StoreError};
use std::sync::{Arc, Mutex, mpsc};
use tokio::runtime::Handle;

/// A statement's parameter. A NULL keeps the type it stands for: PostgreSQL infers a
/// parameter's type from it (`COALESCE($1, next_attempt_at)` needs an integer).
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    NullInt,
    NullText,
    Int(i64),
    Text(&'a str),
}

/// The types of a statement's parameters, as its trace shows them: `int,text,…`
/// (written only when a subscriber records the trace).
struct ParamTypes<'a>(&'a [&'a dyn ToParam]);

impl std::fmt::Display for ParamTypes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, param) in self.0.iter().enumerate() {
            let kind = match param.param() {
                Param::NullInt | Param::Int(_) => "int",
                Param::NullText | Param::Text(_) => "text",
            };
            write!(f, "{}{kind}", if n == 0 { "" } else { "," })?;
        }
        Ok(())
    }
}

/// What can be bound to a statement's `$n`.
pub trait ToParam {
    fn param(&self) -> Param<'_>;
}

impl ToParam for str {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}
impl ToParam for String {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}
impl ToParam for i64 {
    fn param(&self) -> Param<'_> {
        Param::Int(*self)
    }
}
impl<T: ToParam + ?Sized> ToParam for &T {
    fn param(&self) -> Param<'_> {
        (**self).param()
    }
}
impl<T: ToParam + Nullable> ToParam for Option<T> {
    fn param(&self) -> Param<'_> {
        self.as_ref().map_or(T::NULL, ToParam::param)
    }
}

/// The NULL of a parameter type.
pub trait Nullable {
    const NULL: Param<'static>;
}
impl Nullable for i64 {
    const NULL: Param<'static> = Param::NullInt;
}
impl Nullable for String {
    const NULL: Param<'static> = Param::NullText;
}
impl Nullable for &str {
    const NULL: Param<'static> = Param::NullText;
}
impl<T: Nullable> Nullable for &T {
    const NULL: Param<'static> = T::NULL;
}

/// A column's value, as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

/// A Rust type a column converts to.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Option<Self>;
}
impl FromValue for i64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }
}
impl FromValue for String {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(text) => Some(text.clone()),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            value => T::from_value(value).map(Some),
        }
    }
}

/// Stores an enum as its text name: bound as `as_str()`, read back through `$parse`
/// (`&str -> Option<Self>`; `None` makes the read fail, naming the column).
macro_rules! text_column {
    ($type:ty, $parse:expr) => {
        impl $crate::store::db::ToParam for $type {
            fn param(&self) -> $crate::store::db::Param<'_> {
                $crate::store::db::Param::Text(self.as_str())
            }
        }

        impl $crate::store::db::FromValue for $type {
            fn from_value(value: &$crate::store::db::Value) -> Option<Self> {
                match value {
                    $crate::store::db::Value::Text(text) => ($parse)(text.as_str()),
                    _ => None,
                }
            }
        }
    };
}
pub(super) use text_column;

/// A row read, owning its values.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// The column `name`, converted; an error names the column when it is missing or of
    /// another type.
    pub fn get<T: FromValue>(&self, name: &str) -> Result<T, StoreError> {
        let index =
            self.columns.iter().position(|column| column == name).ok_or_else(|| StoreError::Column(format!("no column `{name}`")))?;
        T::from_value(&self.values[index]).ok_or_else(|| StoreError::Column(format!("column `{name}` is {:?}", self.values[index])))
    }

    /// The first column, converted.
    pub fn first<T: FromValue>(&self) -> Result<T, StoreError> {
        let value = self.values.first().unwrap_or(&Value::Null);
        T::from_value(value).ok_or_else(|| StoreError::Column(format!("first column is {value:?}")))
    }
}

/// The connection a unit of work runs on, inside its transaction.
pub struct Tx<'c> {
    connection: Connection<'c>,
    abandoned: bool,
}

enum Connection<'c> {
    Sqlite(&'c rusqlite::Connection),
    Postgres { connection: &'c mut sqlx::AnyConnection, handle: &'c Handle },
}

impl Tx<'_> {
    pub fn backend(&self) -> Backend {
        match self.connection {
            Connection::Sqlite(_) => Backend::Sqlite,
            Connection::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Undoes everything this unit of work wrote, once it returns (its result is still
    /// delivered): for a unit of work that finds, half way, that it must change nothing.
    pub fn abandon(&mut self) {
        self.abandoned = true;
    }

    /// Runs a statement; returns how many rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[&dyn ToParam]) -> Result<u64, StoreError> {
        tracing::trace!(target: "store::sql", sql, params = %ParamTypes(params));
        match &mut self.connection {
            Connection::Sqlite(connection) => {
                let mut statement = connection.prepare_cached(sql)?;
                bind(&mut statement, params)?;
                Ok(statement.raw_execute()? as u64)
            }
            Connection::Postgres { connection, handle } => {
                let query = bind_sqlx(sqlx::query(sql), params);
                Ok(handle.block_on(sqlx::Executor::execute(&mut **connection, query))?.rows_affected())
            }
        }
    }

    /// Runs a query; returns every row.
    pub fn query(&mut self, sql: &str, params: &[&dyn ToParam]) -> Result<Vec<Row>, StoreError> {
        tracing::trace!(target: "store::sql", sql, params = %ParamTypes(params));
        match &mut self.connection {
            Connection::Sqlite(connection) => {
                let mut statement = connection.prepare_cached(sql)?;
                bind(&mut statement, params)?;
                let columns: Arc<[String]> = statement.column_names().into_iter().map(str::to_owned).collect();
                let mut rows = statement.raw_query();
                let mut read = Vec::new();
                while let Some(row) = rows.next()? {
                    let values = (0..columns.len())
                        .map(|index| {
                            Ok(match row.get_ref(index)? {
                                rusqlite::types::ValueRef::Null => Value::Null,
                                rusqlite::types::ValueRef::Integer(n) => Value::Int(n),
                                rusqlite::types::ValueRef::Text(text) => Value::Text(String::from_utf8_lossy(text).into_owned()),
                                other => return Err(StoreError::Column(format!("unexpected {:?}", other.data_type()))),
                            })
                        })
                        .collect::<Result<_, StoreError>>()?;
                    read.push(Row { columns: columns.clone(), values });
                }
                Ok(read)
            }
            Connection::Postgres { connection, handle } => {
                let query = bind_sqlx(sqlx::query(sql), params);
                let rows = handle.block_on(sqlx::Executor::fetch_all(&mut **connection, query))?;
                let Some(first) = rows.first() else { return Ok(Vec::new()) };
                let columns: Arc<[String]> = sqlx::Row::columns(first).iter().map(|c| sqlx::Column::name(c).to_owned()).collect();
                rows.iter()
                    .map(|row| {
                        let values = (0..columns.len()).map(|index| any_value(row, index)).collect::<Result<_, StoreError>>()?;
                        Ok(Row { columns: columns.clone(), values })
                    })
                    .collect()
            }
        }
    }

    /// The first row, if any.
    pub fn query_opt(&mut self, sql: &str, params: &[&dyn ToParam]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first column of the first row, if there is a row.
    pub fn scalar<T: FromValue>(&mut self, sql: &str, params: &[&dyn ToParam]) -> Result<Option<T>, StoreError> {
        self.query_opt(sql, params)?.map(|row| row.first()).transpose()
    }

    /// The first column of the first row, which must be there.
    pub fn one<T: FromValue>(&mut self, sql: &str, params: &[&dyn ToParam]) -> Result<T, StoreError> {
        self.scalar(sql, params)?.ok_or_else(|| StoreError::Column("no row".into()))
    }

    /// The first row, which must be there.
    pub fn one_row(&mut self, sql: &str, params: &[&dyn ToParam]) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?.ok_or_else(|| StoreError::Column("no row".into()))
    }
}

fn bind(statement: &mut rusqlite::CachedStatement<'_>, params: &[&dyn ToParam]) -> Result<(), StoreError> {
    // `$n` is a named parameter to SQLite, numbered by first appearance: bind by name.
    for index in 1..=statement.parameter_count() {
        let name = statement.parameter_name(index).unwrap_or_default();
        let number: usize = name.trim_start_matches(['$', '?']).parse().unwrap_or(index);
        let param = params.get(number - 1).ok_or_else(|| StoreError::Column(format!("no value for parameter {name}")))?;
        match param.param() {
            Param::NullInt | Param::NullText => statement.raw_bind_parameter(index, rusqlite::types::Null)?,
            Param::Int(n) => statement.raw_bind_parameter(index, n)?,
            Param::Text(text) => statement.raw_bind_parameter(index, text)?,
        }
    }
    Ok(())
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn bind_sqlx<'q>(mut query: AnyQuery<'q>, params: &[&dyn ToParam]) -> AnyQuery<'q> {
    for param in params {
        query = match param.param() {
            Param::NullInt => query.bind(None::<i64>),
            Param::NullText => query.bind(None::<String>),
            Param::Int(n) => query.bind(n),
            Param::Text(text) => query.bind(text.to_owned()),
        };
    }
    query
}

fn any_value(row: &sqlx::any::AnyRow, index: usize) -> Result<Value, StoreError> {
    use sqlx::Row as _;
    if let Ok(value) = row.try_get::<Option<i64>, _>(index) {
        return Ok(value.map_or(Value::Null, Value::Int));
    }
    if let Ok(value) = row.try_get::<Option<String>, _>(index) {
        return Ok(value.map_or(Value::Null, Value::Text));
    }
    if let Ok(value) = row.try_get::<Option<bool>, _>(index) {
        return Ok(value.map_or(Value::Null, |b| Value::Int(b.into())));
    }
    Ok(row.try_get::<Option<i32>, _>(index)?.map_or(Value::Null, |n| Value::Int(n.into())))
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Sqlite(error.to_string())
    }
}

/// A unit of work queued for the SQLite writer: run (with the transaction) or refused
/// (`None`: the batch broke before its turn). It returns whether to keep what it wrote,
/// and what to do once the COMMIT's fate is known.
type Job = Box<dyn FnOnce(Option<&mut Tx<'_>>) -> Option<(bool, Finish)> + Send>;
type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The SQLite side: the writer thread's queue, and the readers' connections.
pub struct Sqlite {
    writer: mpsc::Sender<Job>,
    readers: Mutex<Vec<rusqlite::Connection>>,
    path: String,
}

/// At most this many units of work share one commit.
const GROUP: usize = 64;

impl Sqlite {
    pub fn open(path: &str) -> Result<Sqlite, StoreError> {
        let writer_connection = open(path)?;
        let (writer, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(&writer_connection, &queue))
            .map_err(|error| StoreError::Sqlite(error.to_string()))?;
        Ok(Sqlite { writer, readers: Mutex::new(Vec::new()), path: path.to_owned() })
    }

    pub async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |tx| {
            let Some(tx) = tx else {
                let _ = reply.send(Err(StoreError::Interrupted));
                return None;
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(tx))).unwrap_or(Err(StoreError::Interrupted));
            let keep = result.is_ok() && !tx.abandoned;
            let finish: Finish = Box::new(move |commit| {
                let _ = reply.send(commit.map_err(StoreError::Sqlite).and(result));
            });
            Some((keep, finish))
        });
        self.writer.send(job).map_err(|_| StoreError::Interrupted)?;
        answer.await.map_err(|_| StoreError::Interrupted)?
    }

    /// Runs `work` here, in a read transaction (one snapshot) on a pooled connection.
    pub fn read<T>(&self, work: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let connection = self.readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
        let connection = match connection {
            Some(connection) => connection,
            None => open(&self.path)?,
        };
        connection.execute_batch("BEGIN")?;
        let mut tx = Tx { connection: Connection::Sqlite(&connection), abandoned: false };
        let result = work(&mut tx);
        let ended = connection.execute_batch("COMMIT");
        if ended.is_ok() {
            let mut readers = self.readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if readers.len() < 8 {
                readers.push(connection);
            }
        }
        let value = result?;
        ended?;
        Ok(value)
    }
}

fn open(path: &str) -> Result<rusqlite::Connection, StoreError> {
    let connection = rusqlite::Connection::open(path)?;
    // WAL lets readers run while the writer commits; NORMAL is durable in WAL mode
    // except for the last transactions on power loss, never corrupting. `temp_store`:
    // the savepoint of each unit of work in a group commit keeps the pages it changes
    // in a sub-journal, which SQLite otherwise spills past 64 KiB to a temporary file
    // (created, written page by page and deleted once per commit: 25 of a webhook's 32
    // write calls). In memory it is a copy, freed at the commit; no statement sorts a
    // growing table (`tests/query_plans.rs`), so no temporary table grows with the data.
    connection.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY;",
    )?;
    connection.set_prepared_statement_cache_capacity(256);
    Ok(connection)
}

fn write_loop(connection: &rusqlite::Connection, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < GROUP {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(connection, batch);
    }
}

/// One transaction for the whole batch, a savepoint for each unit of work in it.
fn run_batch(connection: &rusqlite::Connection, batch: Vec<Job>) {
    let mut finishes = Vec::with_capacity(batch.len());
    let mut broken = connection.execute_batch("BEGIN IMMEDIATE").err().map(|error| error.to_string());
    for job in batch {
        if broken.is_some() {
            job(None);
            continue;
        }
        if let Err(error) = connection.execute_batch("SAVEPOINT unit") {
            broken = Some(error.to_string());
            job(None);
            continue;
        }
        let mut tx = Tx { connection: Connection::Sqlite(connection), abandoned: false };
        let Some((keep, finish)) = job(Some(&mut tx)) else { continue };
        finishes.push(finish);
        let ended =
            if keep { connection.execute_batch("RELEASE unit") } else { connection.execute_batch("ROLLBACK TO unit; RELEASE unit") };
        if let Err(error) = ended {
            // SQLite rolled the whole transaction back itself (a full disk, an I/O
            // error): nothing of this batch was kept.
            broken = Some(error.to_string());
        }
    }
    let commit = match broken {
        Some(error) => {
            if !connection.is_autocommit() {
                let _ = connection.execute_batch("ROLLBACK");
            }
            Err(error)
        }
        None => connection.execute_batch("COMMIT").map_err(|error| {
            let _ = connection.execute_batch("ROLLBACK");
            error.to_string()
        }),
    };
    for finish in finishes {
        finish(commit.clone());
    }
}

/// The PostgreSQL side: units of work on the blocking pool.
pub async fn postgres<T: Send + 'static>(
    pool: &sqlx::AnyPool,
    write: bool,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let (pool, handle) = (pool.clone(), Handle::current());
    tokio::task::spawn_blocking(move || {
        let mut connection = handle.block_on(pool.acquire())?;
        let mut transaction = handle.block_on(sqlx::Connection::begin(&mut *connection))?;
        let mut tx = Tx { connection: Connection::Postgres { connection: &mut transaction, handle: &handle }, abandoned: !write };
        let result = work(&mut tx);
        if result.is_ok() && !tx.abandoned {
            handle.block_on(transaction.commit())?;
        } else {
            handle.block_on(transaction.rollback())?;
        }
        result
    })
    .await
    .map_err(|_| StoreError::Interrupted)?
}

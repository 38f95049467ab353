//! The site's accounts: a name, an argon2 hash of its password and whether the account is still
//! pending, in SQLite (on a named volume in the stack, so they survive `scripts/down.sh` without
//! `--purge`).
//!
//! An account is **pending** from its insertion until spawner has created its instance, and only
//! an active account opens a session. A registration that finds the name taken at spawner (an
//! instance made through the API, which has no account) forgets its pending row again: no
//! password ever opened it, not even in between (issue 16: a login racing such a registration
//! used to get the instance's session).
//!
//! Argon2 is slow on purpose (tens of ms, 19 MiB), so it never runs on an async worker: every
//! call goes to the blocking pool, at most [`Users::parallel`] at once (a burst of logins waits
//! for a permit instead of taking a thread and 19 MiB each). An unknown or pending name is
//! verified against a dummy hash, so it answers as slowly as a wrong password.

use std::sync::{Arc, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::Semaphore;

pub const MIN_PASSWORD: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the accounts database failed")]
    Database(#[from] rusqlite::Error),
    #[error("an accounts task stopped before its end")]
    Task(#[from] actix_web::rt::task::JoinError),
}

struct Inner {
    db: Mutex<Connection>,
    /// The hash an unknown or pending name is verified against (of a random password).
    dummy_hash: String,
}

#[derive(Clone)]
pub struct Users {
    inner: Arc<Inner>,
    /// Argon2 computations at once.
    argon2: Arc<Semaphore>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// Inserted as pending: [`Users::activate`] or [`Users::forget_pending`] it next.
    Pending,
    Taken,
}

fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password")
        .to_string()
}

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

impl Users {
    /// How many argon2 computations run at once: one per core.
    pub fn parallel() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }

    /// Opens (or makes) the database. Rows a stopped mock-home left pending are dropped: one
    /// mock-home owns its database, so no registration is under way yet.
    pub fn open(path: &str) -> rusqlite::Result<Self> {
        let db = Connection::open(path)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS users (
                name TEXT PRIMARY KEY,
                password_hash TEXT NOT NULL,
                created INTEGER NOT NULL DEFAULT (strftime('%s','now'))
            )",
        )?;
        // Databases from before pending accounts: their rows are all active. From before
        // `instance`: it is learnt at the account's next login.
        add_column(&db, "pending", "INTEGER NOT NULL DEFAULT 0")?;
        add_column(&db, "instance", "TEXT")?;
        db.execute("DELETE FROM users WHERE pending = 1", [])?;
        Ok(Self {
            inner: Arc::new(Inner {
                db: Mutex::new(db),
                dummy_hash: hash(&random_password()),
            }),
            argon2: Arc::new(Semaphore::new(Self::parallel())),
        })
    }

    /// Runs `work` on the blocking pool; with `argon2`, under one of the argon2 permits.
    async fn blocking<T: Send + 'static>(
        &self,
        argon2: bool,
        work: impl FnOnce(&Inner) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        let _permit = if argon2 {
            Some(
                self.argon2
                    .acquire()
                    .await
                    .expect("the semaphore is never closed"),
            )
        } else {
            None
        };
        let inner = self.inner.clone();
        Ok(actix_web::rt::task::spawn_blocking(move || work(&inner)).await??)
    }

    /// Adds a pending account, unless the name is taken (by an active or a pending one).
    pub async fn add_pending(&self, name: &str, password: &str) -> Result<Added, Error> {
        let (name, password) = (name.to_string(), password.to_string());
        self.blocking(true, move |inner| {
            let hash = hash(&password);
            let inserted = inner.db().execute(
                "INSERT OR IGNORE INTO users (name, password_hash, pending) VALUES (?1, ?2, 1)",
                params![name, hash],
            )?;
            Ok(if inserted == 1 {
                Added::Pending
            } else {
                Added::Taken
            })
        })
        .await
    }

    /// The pending account's instance exists: from now on its password opens that instance,
    /// the one whose session epoch is `instance` (and no later instance of the same name).
    pub async fn activate(&self, name: &str, instance: Option<&str>) -> Result<(), Error> {
        let (name, instance) = (name.to_string(), instance.map(String::from));
        self.blocking(false, move |inner| {
            inner
                .db()
                .execute(
                    "UPDATE users SET pending = 0, instance = ?2 WHERE name = ?1 AND pending = 1",
                    params![name, instance],
                )
                .map(|_| ())
        })
        .await
    }

    /// Whether the active account `name` opens the instance whose session epoch is `instance`:
    /// the one made for it, not a later instance of the same name made by someone else. An
    /// account from before epochs were kept adopts `instance` at its first login.
    pub async fn opens(&self, name: &str, instance: &str) -> Result<bool, Error> {
        let (name, instance) = (name.to_string(), instance.to_string());
        self.blocking(false, move |inner| {
            let db = inner.db();
            db.execute(
                "UPDATE users SET instance = ?2 WHERE name = ?1 AND pending = 0 AND instance IS NULL",
                params![name, instance],
            )?;
            let stored: Option<String> = db
                .query_row(
                    "SELECT instance FROM users WHERE name = ?1 AND pending = 0",
                    params![name],
                    |row| row.get(0),
                )
                .optional()?
                .flatten();
            Ok(stored.as_deref() == Some(instance.as_str()))
        })
        .await
    }

    /// Drops a pending account (its instance was not created); an active one stays.
    pub async fn forget_pending(&self, name: &str) -> Result<(), Error> {
        let name = name.to_string();
        self.blocking(false, move |inner| {
            inner
                .db()
                .execute(
                    "DELETE FROM users WHERE name = ?1 AND pending = 1",
                    params![name],
                )
                .map(|_| ())
        })
        .await
    }

    /// Whether `password` opens the account: false for an unknown or pending name, after the
    /// same work as a wrong password.
    pub async fn check(&self, name: &str, password: &str) -> Result<bool, Error> {
        let (name, password) = (name.to_string(), password.to_string());
        self.blocking(true, move |inner| {
            let stored: Option<String> = inner
                .db()
                .query_row(
                    "SELECT password_hash FROM users WHERE name = ?1 AND pending = 0",
                    params![name],
                    |row| row.get(0),
                )
                .optional()?;
            Ok(match stored {
                Some(hash) => verify(&password, &hash),
                None => {
                    verify(&password, &inner.dummy_hash);
                    false
                }
            })
        })
        .await
    }
}

/// Adds a column that databases from before it lack.
fn add_column(db: &Connection, column: &str, definition: &str) -> rusqlite::Result<()> {
    let present: bool = db.query_row(
        "SELECT count(*) FROM pragma_table_info('users') WHERE name = ?1",
        params![column],
        |row| row.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !present {
        db.execute_batch(&format!(
            "ALTER TABLE users ADD COLUMN {column} {definition}"
        ))?;
    }
    Ok(())
}

impl Inner {
    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A password nobody knows, for the dummy hash.
fn random_password() -> String {
    SaltString::generate(&mut OsRng).as_str().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[actix_web::test]
    async fn only_an_activated_account_is_opened_by_its_password() {
        let users = Users::open(":memory:").unwrap();
        assert_eq!(
            users.add_pending("ann", "correct horse").await.unwrap(),
            Added::Pending
        );
        assert!(
            !users.check("ann", "correct horse").await.unwrap(),
            "pending"
        );
        assert_eq!(
            users.add_pending("ann", "other one").await.unwrap(),
            Added::Taken,
            "a pending name is taken"
        );
        users.activate("ann", Some("e1")).await.unwrap();
        assert!(users.check("ann", "correct horse").await.unwrap());
        assert!(users.opens("ann", "e1").await.unwrap());
        assert!(!users.opens("ann", "e2").await.unwrap(), "a later instance");
        // An account from before epochs were kept adopts the first one it is asked about.
        users.add_pending("old", "correct horse").await.unwrap();
        users.activate("old", None).await.unwrap();
        assert!(users.opens("old", "e3").await.unwrap());
        assert!(!users.opens("old", "e4").await.unwrap());
        assert!(!users.check("ann", "correct hors").await.unwrap());
        assert!(!users.check("bob", "correct horse").await.unwrap());
        assert_eq!(
            users.add_pending("ann", "other one").await.unwrap(),
            Added::Taken
        );
        users.forget_pending("ann").await.unwrap();
        assert!(
            users.check("ann", "correct horse").await.unwrap(),
            "forget_pending leaves an active account alone"
        );
    }

    #[actix_web::test]
    async fn a_forgotten_pending_account_frees_its_name_and_never_opened() {
        let users = Users::open(":memory:").unwrap();
        users.add_pending("ann", "correct horse").await.unwrap();
        users.forget_pending("ann").await.unwrap();
        assert!(!users.check("ann", "correct horse").await.unwrap());
        assert_eq!(
            users.add_pending("ann", "another one").await.unwrap(),
            Added::Pending
        );
    }

    #[test]
    fn pending_accounts_left_by_a_stopped_home_are_dropped_and_old_databases_migrated() {
        let dir = std::env::temp_dir().join(format!("mock-home-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.sqlite");
        let _ = std::fs::remove_file(&path);
        let path = path.to_str().unwrap();
        {
            // The schema before pending accounts, with one account.
            let db = Connection::open(path).unwrap();
            db.execute_batch(
                "CREATE TABLE users (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL,
                 created INTEGER NOT NULL DEFAULT (strftime('%s','now')))",
            )
            .unwrap();
            db.execute(
                "INSERT INTO users (name, password_hash) VALUES ('old', ?1)",
                params![hash("old password")],
            )
            .unwrap();
        }
        let runtime = actix_web::rt::System::new();
        runtime.block_on(async {
            let users = Users::open(path).unwrap();
            assert!(users.check("old", "old password").await.unwrap());
            users.add_pending("half", "half made").await.unwrap();
        });
        runtime.block_on(async {
            let users = Users::open(path).unwrap();
            assert_eq!(
                users.add_pending("half", "again").await.unwrap(),
                Added::Pending
            );
        });
        std::fs::remove_dir_all(&dir).unwrap();
    }

    async fn timed(users: &Users, name: &str) -> Duration {
        let start = Instant::now();
        assert!(!users.check(name, "not the password").await.unwrap());
        start.elapsed()
    }

    #[actix_web::test]
    async fn an_unknown_or_pending_name_is_answered_as_slowly_as_a_wrong_password() {
        let users = Users::open(":memory:").unwrap();
        users.add_pending("ann", "correct horse").await.unwrap();
        users.activate("ann", Some("e1")).await.unwrap();
        users.add_pending("pat", "correct horse").await.unwrap();
        let (mut wrong, mut unknown, mut pending) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            wrong.push(timed(&users, "ann").await);
            unknown.push(timed(&users, "bob").await);
            pending.push(timed(&users, "pat").await);
        }
        let fastest = |v: &[Duration]| *v.iter().min().unwrap();
        eprintln!(
            "fastest of 3: wrong password {:?}, unknown name {:?}, pending {:?}",
            fastest(&wrong),
            fastest(&unknown),
            fastest(&pending)
        );
        // The same argon2 work: within a factor of two (scheduling noise), never a lookup's µs.
        for other in [fastest(&unknown), fastest(&pending)] {
            assert!(other * 2 > fastest(&wrong), "{other:?} vs {wrong:?}");
        }
    }

    #[actix_web::test]
    async fn argon2_leaves_the_async_worker_free() {
        let users = Users::open(":memory:").unwrap();
        users.add_pending("ann", "correct horse").await.unwrap();
        // This test's runtime has one thread: ticks only advance while argon2 runs elsewhere.
        let ticks = std::rc::Rc::new(std::cell::Cell::new(0u32));
        let counter = ticks.clone();
        let ticker = actix_web::rt::spawn(async move {
            loop {
                actix_web::rt::time::sleep(Duration::from_millis(1)).await;
                counter.set(counter.get() + 1);
            }
        });
        let start = Instant::now();
        users.check("ann", "correct horse").await.unwrap();
        let elapsed = start.elapsed();
        ticker.abort();
        eprintln!("{} ticks during a {elapsed:?} check", ticks.get());
        assert!(
            ticks.get() as u128 * 4 >= elapsed.as_millis(),
            "{} ticks in {elapsed:?}",
            ticks.get()
        );
    }
}

//! The site's accounts: a name and an argon2 hash of its password, in SQLite (on a named volume
//! in the stack, so they survive `scripts/down.sh` without `--purge`).

use std::sync::Mutex;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rusqlite::{params, Connection, OptionalExtension};

pub const MIN_PASSWORD: usize = 8;

pub struct Users {
    db: Mutex<Connection>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    Yes,
    Taken,
}

impl Users {
    pub fn open(path: &str) -> rusqlite::Result<Self> {
        let db = Connection::open(path)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS users (
                name TEXT PRIMARY KEY,
                password_hash TEXT NOT NULL,
                created INTEGER NOT NULL DEFAULT (strftime('%s','now'))
            )",
        )?;
        Ok(Self { db: Mutex::new(db) })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an account, unless the name is taken.
    pub fn add(&self, name: &str, password: &str) -> rusqlite::Result<Added> {
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 hashes any password")
            .to_string();
        let inserted = self.db().execute(
            "INSERT OR IGNORE INTO users (name, password_hash) VALUES (?1, ?2)",
            params![name, hash],
        )?;
        Ok(if inserted == 1 {
            Added::Yes
        } else {
            Added::Taken
        })
    }

    pub fn remove(&self, name: &str) -> rusqlite::Result<()> {
        self.db()
            .execute("DELETE FROM users WHERE name = ?1", params![name])
            .map(|_| ())
    }

    /// Whether `password` is the account's; false for an unknown name.
    pub fn check(&self, name: &str, password: &str) -> rusqlite::Result<bool> {
        let stored: Option<String> = self
            .db()
            .query_row(
                "SELECT password_hash FROM users WHERE name = ?1",
                params![name],
                |row| row.get(0),
            )
            .optional()?;
        Ok(stored.is_some_and(|hash| {
            PasswordHash::new(&hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_added_once_and_checked_by_its_password() {
        let users = Users::open(":memory:").unwrap();
        assert_eq!(users.add("ann", "correct horse").unwrap(), Added::Yes);
        assert_eq!(users.add("ann", "other one").unwrap(), Added::Taken);
        assert!(users.check("ann", "correct horse").unwrap());
        assert!(!users.check("ann", "correct hors").unwrap());
        assert!(!users.check("bob", "correct horse").unwrap());
        users.remove("ann").unwrap();
        assert!(!users.check("ann", "correct horse").unwrap());
    }
}

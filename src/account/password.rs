//! Password hashing: Argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane:
//! OWASP's recommendation), a random 16-byte salt per password, stored as a PHC string.
//!
//! Each hash holds a core and 19 MiB for tens of milliseconds, so it runs on tokio's
//! blocking pool, and no more of them run at once than the machine has cores
//! ([`HASHING`]): a burst of sign-ins or sign-ups, from however many addresses, queues
//! for a core instead of taking hundreds of the pool's threads (where PostgreSQL's
//! transactions run too) and gigabytes of memory.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::LazyLock;
use tokio::sync::Semaphore;

/// The hashes running at once, process-wide: one per core.
static HASHING: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)));

/// Why a password could not be hashed or checked (logged; the shopper is told to try again).
#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    #[error("hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("the hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Hashes a password for storage, off the async threads and in turn.
pub async fn hash(password: String) -> Result<String, HashingError> {
    in_turn(move || hash_now(&password)).await?.map_err(HashingError::Hash)
}

/// Whether `password` matches `stored`, off the async threads and in turn. With no
/// stored hash (an email that has no account) the same work is done and the answer is
/// no, so the time taken does not tell which it was.
pub async fn check(password: String, stored: Option<String>) -> Result<bool, HashingError> {
    in_turn(move || match stored {
        Some(stored) => verify(&password, &stored),
        None => {
            static DUMMY: LazyLock<String> = LazyLock::new(|| hash_now("not a password anyone has").unwrap_or_default());
            let _ = verify(&password, &DUMMY);
            false
        }
    })
    .await
    .map_err(HashingError::from)
}

/// Runs `work` on the blocking pool once a core is free for it. The turn is held by the
/// work itself, not by the request waiting for it: a client that hangs up mid-hash does
/// not free a turn while its hash still runs.
async fn in_turn<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, tokio::task::JoinError> {
    // Never closed, so acquiring only waits.
    let turn = HASHING.acquire().await.expect("the hashing semaphore is never closed");
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        work()
    })
    .await
}

fn hash_now(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Whether `password` matches a stored hash (a malformed hash matches nothing).
fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash_now("correct horse battery staple").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify("correct horse battery staple", &stored));
        assert!(!verify("correct horse battery stapl", &stored));
        assert!(!verify("", &stored));
    }

    #[test]
    fn the_same_password_hashes_differently_each_time() {
        let a = hash_now("hunter2hunter2").unwrap();
        let b = hash_now("hunter2hunter2").unwrap();
        assert_ne!(a, b);
        assert!(verify("hunter2hunter2", &a) && verify("hunter2hunter2", &b));
    }

    #[tokio::test]
    async fn a_turn_is_held_by_the_work_even_once_its_caller_gave_up() {
        let turns = HASHING.available_permits();
        let (started, has_started) = std::sync::mpsc::channel();
        let (finish, may_finish) = std::sync::mpsc::channel::<()>();
        let caller = tokio::spawn(in_turn(move || {
            started.send(()).unwrap();
            may_finish.recv().unwrap();
        }));
        tokio::task::spawn_blocking(move || has_started.recv().unwrap()).await.unwrap();
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        assert_eq!(HASHING.available_permits(), turns - 1, "the work still runs, so its turn is still taken");
        finish.send(()).unwrap();
        // Every turn comes back once the work ends.
        drop(HASHING.acquire_many(u32::try_from(turns).unwrap()).await.unwrap());
    }

    #[test]
    fn a_malformed_hash_matches_nothing() {
        assert!(!verify("anything", "not-a-phc-string"));
        assert!(!verify("anything", ""));
    }
}

//! Password hashing: Argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane:
//! OWASP's recommendation), a random 16-byte salt per password, stored as a PHC string.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::LazyLock;

/// Hashes a password for storage.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Whether `password` matches a stored hash (a malformed hash matches nothing).
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Spends the time of one verification, for an email that has no account: the answer
/// then takes as long as for a wrong password, so timing does not tell which it was.
pub fn verify_nothing(password: &str) {
    static DUMMY: LazyLock<String> = LazyLock::new(|| hash("not a password anyone has").unwrap_or_default());
    let _ = verify(password, &DUMMY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery staple").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify("correct horse battery staple", &stored));
        assert!(!verify("correct horse battery stapl", &stored));
        assert!(!verify("", &stored));
    }

    #[test]
    fn the_same_password_hashes_differently_each_time() {
        let a = hash("hunter2hunter2").unwrap();
        let b = hash("hunter2hunter2").unwrap();
        assert_ne!(a, b);
        assert!(verify("hunter2hunter2", &a) && verify("hunter2hunter2", &b));
    }

    #[test]
    fn a_malformed_hash_matches_nothing() {
        assert!(!verify("anything", "not-a-phc-string"));
        assert!(!verify("anything", ""));
    }
}

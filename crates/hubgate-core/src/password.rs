//! User passwords: Argon2id with the crate's default (OWASP) parameters.
//!
//! Argon2 is memory-hard on purpose: each check fills 19 MiB. Letting every
//! login allocate its own block would let anonymous clients grow the process
//! by 19 MiB per concurrent attempt (and the allocator keeps what it got).
//! So every hash and check here runs in one of a few memory blocks allocated
//! once, in a process-wide [`PasswordPool`]: as many checks run at once as
//! there are blocks, a few more wait, and past that [`admit`] answers
//! [`Busy`] at once (the login pages answer 429).

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, LazyLock, Mutex, PoisonError};

use argon2::password_hash::{
    Decimal, Ident, Output, ParamsString, PasswordHash, PasswordHasher, PasswordVerifier, Salt,
    SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};

pub const MIN_PASSWORD_LEN: usize = 12;

/// A small bundled list of passwords long enough to pass the length rule
/// that breach corpora still show often.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_PASSWORD_LEN} characters")]
    TooShort,
    #[error("this password is too common or too simple: choose another")]
    TooCommon,
    #[error("the password could not be hashed")]
    Hashing,
}

/// Every memory block is in use and the queue is full: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks are running right now")]
pub struct Busy;

/// A fixed set of preallocated Argon2 memory blocks, and the admission count
/// (running plus waiting checks) that bounds the queue in front of them.
pub struct PasswordPool {
    free: Mutex<Vec<Box<[Block]>>>,
    returned: Condvar,
    admitted: AtomicUsize,
    max_admitted: usize,
    slots: usize,
}

impl PasswordPool {
    /// `slots` blocks of the default parameters' size; up to `queue` more
    /// checks wait for one.
    pub fn new(slots: usize, queue: usize) -> Self {
        let slots = slots.max(1);
        let blocks = Params::DEFAULT.block_count();
        Self {
            free: Mutex::new(
                (0..slots)
                    .map(|_| vec![Block::default(); blocks].into_boxed_slice())
                    .collect(),
            ),
            returned: Condvar::new(),
            admitted: AtomicUsize::new(0),
            max_admitted: slots + queue,
            slots,
        }
    }

    /// Checks that may run at once.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// A place among the running and waiting checks, or [`Busy`] at once.
    pub fn admit(&'static self) -> Result<Admission, Busy> {
        let mut current = self.admitted.load(Ordering::Relaxed);
        loop {
            if current >= self.max_admitted {
                return Err(Busy);
            }
            match self.admitted.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(Admission { pool: self }),
                Err(now) => current = now,
            }
        }
    }

    /// Runs `f` with a memory block, waiting (blocking) for one to be free.
    fn with_block<T>(&self, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let block = {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if let Some(block) = free.pop() {
                    break block;
                }
                free = self
                    .returned
                    .wait(free)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        // Puts the block back, even if `f` panics.
        struct Lent<'p>(&'p PasswordPool, Box<[Block]>);
        impl Drop for Lent<'_> {
            fn drop(&mut self) {
                let block = std::mem::take(&mut self.1);
                self.0
                    .free
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(block);
                self.0.returned.notify_one();
            }
        }
        let mut lent = Lent(self, block);
        f(&mut lent.1)
    }
}

/// The process-wide pool: one block per core but one (so a login storm
/// leaves a core to the token endpoint), at least one, at most eight; as many
/// again may wait.
pub static POOL: LazyLock<PasswordPool> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let slots = cores.saturating_sub(1).clamp(1, 8);
    PasswordPool::new(slots, 2 * slots)
});

/// A place in [`POOL`]'s queue; released when dropped.
pub struct Admission {
    pool: &'static PasswordPool,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.pool.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// [`verify_password`] in this admission's pool. Blocks: run it on a
    /// blocking thread.
    pub fn verify(self, password: &str, stored_hash: &str) -> bool {
        verify_in(self.pool, password, stored_hash)
    }
}

/// A place in the process-wide pool's queue, or [`Busy`].
pub fn admit() -> Result<Admission, Busy> {
    POOL.admit()
}

/// Argon2 computed in a caller-provided memory block.
struct InBlock<'m> {
    blocks: RefCell<&'m mut [Block]>,
}

impl PasswordHasher for InBlock<'_> {
    type Params = Params;

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> argon2::password_hash::Result<PasswordHash<'a>> {
        let algorithm = algorithm
            .map(Algorithm::try_from)
            .transpose()?
            .unwrap_or_default();
        let version = version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let salt = salt.into();
        let mut salt_buffer = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buffer)?;
        let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let mut blocks = self.blocks.borrow_mut();
        let output = Output::init_with(output_len, |out| {
            if params.block_count() <= blocks.len() {
                argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut **blocks)
            } else {
                // A hash made elsewhere with more memory than a pool block.
                argon2.hash_password_into(password, salt_bytes, out)
            }
            .map_err(Into::into)
        })?;
        Ok(PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }
}

/// Returns the PHC string (`$argon2id$v=19$…`) to store. Blocks (waiting for
/// a pool block if all are busy).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    check_strength(password)?;
    let salt = SaltString::generate(&mut OsRng);
    POOL.with_block(|blocks| {
        InBlock {
            blocks: RefCell::new(blocks),
        }
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| PasswordError::Hashing)
    })
}

/// Refuses a password a person should not choose: shorter than
/// [`MIN_PASSWORD_LEN`], one character repeated, or on the bundled list of
/// common ones (compared ignoring case).
pub fn check_strength(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    let lower = password.to_lowercase();
    let mut chars = lower.chars();
    let first = chars.next();
    let one_character = chars.all(|c| Some(c) == first);
    let listed = COMMON_PASSWORDS
        .lines()
        .filter(|line| !line.starts_with('#'))
        .any(|common| common == lower);
    if one_character || listed {
        return Err(PasswordError::TooCommon);
    }
    Ok(())
}

/// False for a wrong password and for a malformed stored hash alike. Blocks
/// (waiting for a pool block if all are busy); request handlers use
/// [`admit`] first, which bounds the wait.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    verify_in(&POOL, password, stored_hash)
}

fn verify_in(pool: &PasswordPool, password: &str, stored_hash: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored_hash) else {
        return false;
    };
    pool.with_block(|blocks| {
        InBlock {
            blocks: RefCell::new(blocks),
        }
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
    })
}

/// A readable one-time password: 20 characters from an alphabet without
/// look-alikes (about 115 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn hashes_agree_with_the_argon2_crate_both_ways() {
        let ours = hash_password("correct horse battery").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(verify_password("correct horse battery", &theirs));
        assert!(!verify_password("wrong horse battery", &theirs));
        // Other parameters (less memory than a block) verify too.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(verify_password("correct horse battery", &small));
    }

    #[test]
    fn admission_past_the_slots_and_queue_is_refused_at_once() {
        static SMALL: LazyLock<PasswordPool> = LazyLock::new(|| PasswordPool::new(1, 2));
        let held: Vec<Admission> = (0..3).map(|_| SMALL.admit().unwrap()).collect();
        assert_eq!(SMALL.admit().err(), Some(Busy));
        drop(held);
        let hash = hash_password("correct horse battery").unwrap();
        assert!(
            SMALL
                .admit()
                .unwrap()
                .verify("correct horse battery", &hash)
        );
        assert_eq!(SMALL.admitted.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn short_common_and_simple_passwords_are_refused() {
        assert_eq!(hash_password("short"), Err(PasswordError::TooShort));
        assert_eq!(hash_password("elevenchars"), Err(PasswordError::TooShort));
        assert_eq!(
            check_strength("Password1234"),
            Err(PasswordError::TooCommon)
        );
        assert_eq!(
            check_strength("QWERTY123456"),
            Err(PasswordError::TooCommon)
        );
        assert_eq!(
            check_strength("zzzzzzzzzzzzzz"),
            Err(PasswordError::TooCommon)
        );
        assert_eq!(check_strength("violet tram anchor"), Ok(()));
        assert_eq!(check_strength(&generate_password()), Ok(()));
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let a = generate_password();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate_password());
    }
}

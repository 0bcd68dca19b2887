//! Values from clients, made safe to log: control characters escaped (no
//! forged lines, no terminal escapes), truncated, and anything that looks
//! like one of hubgate's secrets (`hgs_`, `hgr_`, `hga_`) replaced by a short
//! fingerprint, so a secret typed into the wrong field never reaches a log.

use std::fmt;

/// Characters of an untrusted value logged at most.
pub const MAX_LOGGED_CHARS: usize = 64;

const SECRET_PREFIXES: [&str; 3] = ["hgs_", "hgr_", "hga_"];

/// `%untrusted(value)` in a `tracing` call.
pub fn untrusted(value: &str) -> Untrusted<'_> {
    Untrusted(value)
}

pub struct Untrusted<'a>(&'a str);

/// The first 4 bytes of the value's SHA-256, hex: enough to tell two values
/// apart in logs, useless for recovering either.
fn fingerprint(value: &str) -> String {
    hubgate_core::crypto::sha256(value.as_bytes())[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `value` with control characters escaped, cut at `max` characters.
pub fn write_escaped(f: &mut impl fmt::Write, value: &str, max: usize) -> fmt::Result {
    for (i, c) in value.chars().enumerate() {
        if i == max {
            return f.write_str("…");
        }
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            f.write_char(c)?;
        }
    }
    Ok(())
}

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lower = self.0.to_ascii_lowercase();
        if let Some(prefix) = SECRET_PREFIXES.iter().find(|p| lower.contains(*p)) {
            return write!(f, "[secret-like {prefix}… sha256:{}]", fingerprint(self.0));
        }
        write_escaped(f, self.0, MAX_LOGGED_CHARS)
    }
}

impl fmt::Debug for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_long_values_cut_and_secrets_fingerprinted() {
        let forged = "hgc_x\n2026-01-01T00:00:00Z  INFO hubgate: FORGED admin login ok\u{1b}[2J";
        let forged = format!("{forged}{}", "x".repeat(100));
        let logged = untrusted(&forged).to_string();
        assert!(
            !logged.contains('\n') && !logged.contains('\u{1b}'),
            "{logged}"
        );
        assert!(logged.starts_with("hgc_x\\n2026"), "{logged}");
        assert!(logged.ends_with('…'), "{logged}");
        assert!(!logged.contains("xxxxxxxxxx"), "{logged}");
        let secret = "hgs_Zm9vYmFyYmF6cXV4";
        let logged = untrusted(secret).to_string();
        assert!(!logged.contains("Zm9v"), "{logged}");
        assert!(logged.starts_with("[secret-like hgs_… sha256:"), "{logged}");
        assert_eq!(untrusted("HGR_abc").to_string().len(), logged.len());
        assert_eq!(untrusted("hgc_plain").to_string(), "hgc_plain");
    }
}

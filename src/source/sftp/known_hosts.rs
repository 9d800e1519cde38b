//! The server's host key checked against an OpenSSH `known_hosts` text, with no trust on first
//! use: a key that is not listed for the host refuses the connection before anything is read.
//!
//! Entries are parsed by `ssh-key` (the crate russh uses for keys); matching follows
//! sshd(8)'s "SSH_KNOWN_HOSTS FILE FORMAT": comma-separated patterns with `*` and `?`, negation
//! with `!`, `[host]:port` for a port other than 22, hashed names (`|1|salt|hash`, HMAC-SHA1 of
//! the name), and `@revoked` keys. `@cert-authority` lines are not used: host certificates are
//! not accepted, so such a line never makes a key trusted.

use russh::keys::ssh_key::known_hosts::{Entry, HostPatterns, KnownHosts, Marker};
use russh::keys::ssh_key::{HashAlg, PublicKey};

use super::location::DEFAULT_PORT;

/// Host keys the job trusts.
#[derive(Debug, Clone)]
pub struct TrustedHosts {
    entries: Vec<Entry>,
}

/// What the check says of a presented key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyVerdict {
    Trusted,
    /// Listed with `@revoked`.
    Revoked,
    /// The host has entries, none of them this key.
    Mismatch,
    /// Nothing in the text names this host.
    Unknown,
}

impl TrustedHosts {
    /// Parses a `known_hosts` text; `what` names it in an error (a file, a ConfigMap key).
    pub fn parse(text: &str, what: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for (index, entry) in KnownHosts::new(text).enumerate() {
            // ssh-key skips blank and comment lines, so the index counts entries.
            let entry = entry.map_err(|e| {
                format!(
                    "{what}: entry {} is not an OpenSSH known_hosts line ({e}); expected \
                     `HOST[,HOST…] KEYTYPE BASE64KEY`, as `ssh-keyscan` prints",
                    index + 1
                )
            })?;
            entries.push(entry);
        }
        if entries.is_empty() {
            return Err(format!(
                "{what} holds no host key; add the server's with `ssh-keyscan -p PORT HOST`"
            ));
        }
        Ok(TrustedHosts { entries })
    }

    /// Whether `key` is the host key of `host:port`.
    pub fn check(&self, host: &str, port: u16, key: &PublicKey) -> HostKeyVerdict {
        let name = if port == DEFAULT_PORT {
            host.to_owned()
        } else {
            format!("[{host}]:{port}")
        };
        let mut listed = false;
        let mut trusted = false;
        for entry in &self.entries {
            if !names(entry.host_patterns(), &name) {
                continue;
            }
            let same_key = entry.public_key().key_data() == key.key_data();
            match entry.marker() {
                Some(Marker::Revoked) if same_key => return HostKeyVerdict::Revoked,
                Some(Marker::Revoked) | Some(Marker::CertAuthority) => {}
                None => {
                    listed = true;
                    trusted |= same_key;
                }
            }
        }
        match (trusted, listed) {
            (true, _) => HostKeyVerdict::Trusted,
            (false, true) => HostKeyVerdict::Mismatch,
            (false, false) => HostKeyVerdict::Unknown,
        }
    }
}

/// `SHA256:…`, as `ssh-keygen -l` and OpenSSH's own messages show a key.
pub fn fingerprint(key: &PublicKey) -> String {
    format!("{} {}", key.algorithm(), key.fingerprint(HashAlg::Sha256))
}

/// Whether the patterns of one line name `name` (`host` or `[host]:port`).
fn names(patterns: &HostPatterns, name: &str) -> bool {
    match patterns {
        HostPatterns::HashedName { salt, hash } => {
            let key =
                aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
            aws_lc_rs::hmac::verify(&key, name.as_bytes(), hash).is_ok()
        }
        HostPatterns::Patterns(list) => {
            let mut matched = false;
            for pattern in list {
                match pattern.strip_prefix('!') {
                    // A negated match rules the host out, whatever else matches.
                    Some(negated) if wildcard(&negated.to_ascii_lowercase(), name) => return false,
                    Some(_) => {}
                    None => matched |= wildcard(&pattern.to_ascii_lowercase(), name),
                }
            }
            matched
        }
    }
}

/// OpenSSH's `match_pattern`: `*` any run, `?` one character, everything else literal
/// (brackets included, so `[host]:2222` is matched as written); names compare in lower case.
fn wildcard(pattern: &str, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two ed25519 keys, as ssh-keyscan prints them.
    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDiMfeXFVNj5yy9jug6GNAW9q1v4kGCcSv5eif3vmvtt";
    const KEY_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGuIXiUVoMgocW2E94uZRHiKDbo20OlK3qr5g3ruQbf";

    fn key(line: &str) -> PublicKey {
        PublicKey::from_openssh(line).unwrap()
    }

    fn hosts(text: &str) -> TrustedHosts {
        TrustedHosts::parse(text, "test").unwrap()
    }

    #[test]
    fn a_listed_key_is_trusted_on_its_port_only() {
        let known = hosts(&format!("[sftp.example.gov]:2222 {KEY_A}\n"));
        assert_eq!(
            known.check("sftp.example.gov", 2222, &key(KEY_A)),
            HostKeyVerdict::Trusted
        );
        assert_eq!(
            known.check("sftp.example.gov", 22, &key(KEY_A)),
            HostKeyVerdict::Unknown
        );
        let known = hosts(&format!("# comment\n\nsftp.example.gov,10.0.0.5 {KEY_A}\n"));
        assert_eq!(
            known.check("10.0.0.5", 22, &key(KEY_A)),
            HostKeyVerdict::Trusted
        );
    }

    #[test]
    fn another_key_for_a_listed_host_is_a_mismatch() {
        let known = hosts(&format!("sftp.example.gov {KEY_A}\n"));
        assert_eq!(
            known.check("sftp.example.gov", 22, &key(KEY_B)),
            HostKeyVerdict::Mismatch
        );
    }

    #[test]
    fn wildcards_negation_and_revocation_follow_openssh() {
        let known = hosts(&format!(
            "*.example.gov,!bad.example.gov {KEY_A}\n@revoked * {KEY_B}\n@cert-authority * {KEY_B}\n"
        ));
        assert_eq!(
            known.check("a.example.gov", 22, &key(KEY_A)),
            HostKeyVerdict::Trusted
        );
        assert_eq!(
            known.check("bad.example.gov", 22, &key(KEY_A)),
            HostKeyVerdict::Unknown
        );
        assert_eq!(
            known.check("a.example.gov", 22, &key(KEY_B)),
            HostKeyVerdict::Revoked
        );
        assert!(wildcard("sftp?.ex*.gov", "sftp1.example.gov"));
        assert!(!wildcard("sftp?.ex*.gov", "sftp12.example.gov"));
    }

    #[test]
    fn a_hashed_name_is_matched_by_its_hmac() {
        // `ssh-keygen -H` of "[127.0.0.1]:2222": HMAC-SHA1 of the name under the salt.
        let salt = [7u8; 20];
        let name = "[127.0.0.1]:2222";
        let tag = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt),
            name.as_bytes(),
        );
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let line = format!(
            "|1|{}|{} {KEY_A}\n",
            b64.encode(salt),
            b64.encode(tag.as_ref())
        );
        let known = hosts(&line);
        assert_eq!(
            known.check("127.0.0.1", 2222, &key(KEY_A)),
            HostKeyVerdict::Trusted
        );
        assert_eq!(
            known.check("127.0.0.2", 2222, &key(KEY_A)),
            HostKeyVerdict::Unknown
        );
    }

    #[test]
    fn an_empty_or_garbled_text_is_refused_with_where() {
        let e = TrustedHosts::parse("# nothing\n", "--ssh-known-hosts k").unwrap_err();
        assert!(e.contains("--ssh-known-hosts k holds no host key"), "{e}");
        let e = TrustedHosts::parse("host ssh-ed25519 !!!\n", "k").unwrap_err();
        assert!(
            e.contains("entry 1 is not an OpenSSH known_hosts line"),
            "{e}"
        );
    }
}

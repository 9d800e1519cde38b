//! `sftp://USER@HOST[:PORT]/PATH`: where a drop is, parsed once.

use super::SftpSourceError;

/// The default SSH port.
pub const DEFAULT_PORT: u16 = 22;

/// An SFTP server, the user to log in as, and the path of the file (or pattern) on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftpLocation {
    pub user: String,
    pub host: String,
    pub port: u16,
    /// As the server resolves it: absolute (`/outbound/x.csv`), or relative to the user's login
    /// directory (`outbound/x.csv`; in a URL, `/~/outbound/x.csv`).
    pub path: String,
}

impl SftpLocation {
    /// Parses `sftp://USER@HOST[:PORT]/PATH`. The path after the host is absolute, and
    /// `/~/PATH` is relative to the login directory (the convention of the SFTP URI draft and
    /// of curl). A password in the URL is refused: it would end up in shell history and logs.
    pub fn parse(url: &str) -> Result<Self, SftpSourceError> {
        let invalid = |why: &str| {
            SftpSourceError::Location(format!(
                "{:?} is not sftp://USER@HOST[:PORT]/PATH: {why}",
                display(url)
            ))
        };
        let parsed = url::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        if parsed.scheme() != "sftp" {
            return Err(invalid("the scheme must be sftp"));
        }
        if parsed.password().is_some() {
            return Err(SftpSourceError::Location(
                "an sftp:// URL must not carry a password; use --ssh-password-file".into(),
            ));
        }
        let user = percent_decode(parsed.username()).map_err(|_| invalid("the user name"))?;
        if user.is_empty() {
            return Err(invalid("no user (sftp://USER@HOST/PATH)"));
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid("no query or fragment is taken"));
        }
        let raw = percent_decode(parsed.path()).map_err(|_| invalid("the path"))?;
        let path = match raw.strip_prefix("/~/") {
            Some(relative) => relative.to_owned(),
            None => raw,
        };
        let location = SftpLocation {
            user,
            host,
            port: parsed.port().unwrap_or(DEFAULT_PORT),
            path,
        };
        location.check()?;
        Ok(location)
    }

    /// Checks the parts given one by one (as the CRD gives them).
    pub fn check(&self) -> Result<(), SftpSourceError> {
        let bad = |why: String| Err(SftpSourceError::Location(why));
        if self.user.is_empty() || self.user.contains(['\0', '\n', '\r']) {
            return bad(format!("the SFTP user {:?} is not a user name", self.user));
        }
        if self.host.is_empty() || self.host.contains(['/', '@', ' ', '\0']) {
            return bad(format!("the SFTP host {:?} is not a host name", self.host));
        }
        if self.port == 0 {
            return bad("the SFTP port must be 1 to 65535".into());
        }
        if self.path.is_empty() || self.path.ends_with('/') || self.path.contains('\0') {
            return bad(format!(
                "the SFTP path {:?} must name a file (or a pattern of file names)",
                self.path
            ));
        }
        Ok(())
    }

    /// How messages name the file: `sftp://USER@HOST[:PORT]/PATH` (no secret is part of it).
    pub fn display_name(&self) -> String {
        self.with_path(&self.path)
    }

    /// The same server and user with another path (the match a pattern chose).
    pub fn with_path(&self, path: &str) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let port = if self.port == DEFAULT_PORT {
            String::new()
        } else {
            format!(":{}", self.port)
        };
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/~/{path}")
        };
        format!("sftp://{}@{host}{port}{path}", self.user)
    }

    /// `sftp://HOST:PORT/`: what the egress policy is asked about.
    pub fn origin_url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("sftp://{host}:{}/", self.port)
    }
}

/// A URL as messages may show it: without a password.
fn display(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn percent_decode(text: &str) -> Result<String, std::str::Utf8Error> {
    String::from_utf8(percent_bytes(text)).map_err(|e| e.utf8_error())
}

/// `%XX` escapes decoded (not `+`: a path keeps its plus signs).
fn percent_bytes(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gives_user_host_port_and_path() {
        let l = SftpLocation::parse("sftp://sf-export@sftp.example.gov:2222/outbound/term_*.csv")
            .unwrap();
        assert_eq!(l.user, "sf-export");
        assert_eq!(l.host, "sftp.example.gov");
        assert_eq!(l.port, 2222);
        assert_eq!(l.path, "/outbound/term_*.csv");
        assert_eq!(
            l.display_name(),
            "sftp://sf-export@sftp.example.gov:2222/outbound/term_*.csv"
        );
        assert_eq!(l.origin_url(), "sftp://sftp.example.gov:2222/");
    }

    #[test]
    fn a_tilde_path_is_relative_to_the_login_directory() {
        let l = SftpLocation::parse("sftp://adp@10.0.0.5/~/drops/x%20y.csv").unwrap();
        assert_eq!(l.port, 22);
        assert_eq!(l.path, "drops/x y.csv");
        assert_eq!(l.display_name(), "sftp://adp@10.0.0.5/~/drops/x y.csv");
    }

    #[test]
    fn a_password_no_user_or_no_file_is_refused() {
        let e = SftpLocation::parse("sftp://u:hunter2@h/x.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("must not carry a password"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        assert!(SftpLocation::parse("sftp://h/x.csv").is_err());
        assert!(SftpLocation::parse("sftp://u@h/").is_err());
        assert!(SftpLocation::parse("sftp://u@h/dir/").is_err());
        assert!(SftpLocation::parse("https://u@h/x.csv").is_err());
    }
}

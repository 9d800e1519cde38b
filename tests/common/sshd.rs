//! A real OpenSSH `sshd` (Debian's openssh-server, installed by scripts/install-test-tools.sh)
//! on a free loopback port, for the SFTP source's tests: a host key and a client key made here,
//! `Subsystem sftp internal-sftp`, key login for the user running the tests and password login
//! for a test account. sshd runs as root (CI does); it is killed when dropped.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The account password login is tested with: no shell, a random password kept in
/// .cache/ (root only) and set anew by every test binary (the same value, so they can run side
/// by side).
pub const PASSWORD_USER: &str = "hrsftp-test";

const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// The directory files are served from (readable by both users).
    pub files: PathBuf,
    /// The user key login is for: whoever runs the tests.
    pub user: String,
    pub client_key: PathBuf,
    /// `[127.0.0.1]:PORT ssh-ed25519 …`: the server's real host key.
    pub known_hosts: PathBuf,
    /// `SHA256:…` of the host key, as `ssh-keygen -l` prints it.
    pub host_fingerprint: String,
    pub log: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A new ed25519 key pair at `path` (and `path.pub`).
pub fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "hrconnector-test",
            "-f",
        ])
        .arg(path));
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Sshd {
    pub fn start() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: scripts/install-test-tools.sh installs openssh-server"
        );
        let user = run(Command::new("id").arg("-un")).trim().to_owned();
        assert_eq!(
            user, "root",
            "the SFTP tests start sshd, which must run as root (CI does)"
        );
        // sshd's privilege-separation directory.
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let dir = tempfile::tempdir().expect("temp dir");
        let files = dir.path().join("files");
        std::fs::create_dir(&files).unwrap();
        for d in [dir.path(), files.as_path()] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let host_key = dir.path().join("host_key");
        keygen(&host_key);
        let client_key = dir.path().join("client_key");
        keygen(&client_key);
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        password_user();
        let fingerprint = run(Command::new("ssh-keygen")
            .arg("-lf")
            .arg(dir.path().join("host_key.pub")));
        let host_fingerprint = fingerprint
            .split_whitespace()
            .nth(1)
            .expect("a fingerprint")
            .to_owned();
        let log = dir.path().join("sshd.log");
        for _ in 0..5 {
            let port = free_port();
            let config = dir.path().join("sshd_config");
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {dir}/sshd.pid\n\
                     AuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\nUsePAM no\n\
                     PermitRootLogin prohibit-password\nPasswordAuthentication yes\n\
                     KbdInteractiveAuthentication no\nAllowUsers {user} {PASSWORD_USER}\n\
                     Subsystem sftp internal-sftp\nLogLevel VERBOSE\nMaxStartups 100\n",
                    host = host_key.display(),
                    dir = dir.path().display(),
                ),
            )
            .unwrap();
            let mut child = Command::new(SSHD)
                .args(["-D", "-f"])
                .arg(&config)
                .arg("-E")
                .arg(&log)
                .stdin(Stdio::null())
                .spawn()
                .expect("sshd starts");
            if !super::stores::wait_for_port(port, &mut child, "sshd") {
                continue;
            }
            let known_hosts = dir.path().join("known_hosts");
            let host_pub = std::fs::read_to_string(dir.path().join("host_key.pub")).unwrap();
            let mut parts = host_pub.split_whitespace();
            let (kind, key) = (parts.next().unwrap(), parts.next().unwrap());
            std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {kind} {key}\n")).unwrap();
            return Sshd {
                child,
                port,
                dir,
                files,
                user,
                client_key,
                known_hosts,
                host_fingerprint,
                log,
            };
        }
        panic!(
            "sshd did not start on any of five ports: {:?}",
            std::fs::read_to_string(&log)
        );
    }

    /// `sftp://USER@127.0.0.1:PORT/…` of a file (or pattern) in the served directory.
    pub fn url(&self, user: &str, name: &str) -> String {
        format!(
            "sftp://{user}@127.0.0.1:{}{}/{name}",
            self.port,
            self.files.display()
        )
    }

    /// Writes a served file, readable by both users.
    pub fn put(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.files.join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        path
    }

    /// Logins sshd has accepted so far.
    pub fn logins(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.starts_with("Accepted publickey for") || l.starts_with("Accepted password for")
            })
            .count()
    }

    /// Ends every open session at once (the per-connection sshd processes and their
    /// privilege-separated children, which hold the connections), as a server that goes away
    /// mid-transfer; the listener stays.
    pub fn drop_sessions(&self) -> usize {
        let mut pids = Vec::new();
        let mut parents = vec![self.child.id().to_string()];
        while let Some(parent) = parents.pop() {
            let out = Command::new("pgrep")
                .args(["-P", &parent])
                .output()
                .expect("pgrep");
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                pids.push(pid.to_owned());
                parents.push(pid.to_owned());
            }
        }
        for pid in &pids {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
        pids.len()
    }
}

/// The password account, created if missing, with the password of .cache/ set; returns the
/// password.
pub fn password_user() -> String {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache");
    std::fs::create_dir_all(&cache).unwrap();
    let file = cache.join("sftp-test-password");
    if !file.exists() {
        let mut bytes = [0u8; 16];
        getrandom(&mut bytes);
        let password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = cache.join(format!("sftp-test-password.{}", std::process::id()));
        std::fs::write(&tmp, &password).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
        // Another test binary may have written it first: the first one wins.
        let _ = std::fs::hard_link(&tmp, &file);
        let _ = std::fs::remove_file(&tmp);
    }
    let password = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    let exists = Command::new("id")
        .arg(PASSWORD_USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !exists {
        // Two binaries may race to create it: whichever loses finds it there.
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
            ])
            .arg(PASSWORD_USER)
            .status();
    }
    // chpasswd locks /etc/shadow; a binary beside this one may hold the lock a moment.
    for attempt in 0.. {
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chpasswd");
        use std::io::Write;
        chpasswd
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{PASSWORD_USER}:{password}\n").as_bytes())
            .unwrap();
        if chpasswd.wait().unwrap().success() {
            break;
        }
        assert!(attempt < 50, "chpasswd failed 50 times");
        std::thread::sleep(Duration::from_millis(100));
    }
    password
}

fn getrandom(bytes: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(bytes))
        .expect("/dev/urandom");
}

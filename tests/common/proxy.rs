//! A real tinyproxy (Debian package `tinyproxy`, installed by scripts/install-test-tools.sh)
//! on a free loopback port, allowed to CONNECT to one port, logging every request.

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::{Child, Command};

pub struct Tinyproxy {
    pub url: String,
    log: PathBuf,
    _child: Child,
    _dir: tempfile::TempDir,
}

fn binary() -> PathBuf {
    for p in ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    panic!(
        "tinyproxy is needed: scripts/install-test-tools.sh installs it (apt-get install tinyproxy)"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Tinyproxy {
    /// Starts tinyproxy allowing CONNECT to `connect_port` only.
    pub async fn start(connect_port: u16) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        // tinyproxy drops root privileges to `nobody`, who must be able to write the log.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let port = free_port();
        let log = dir.path().join("tinyproxy.log");
        let conf = dir.path().join("tinyproxy.conf");
        let user = if running_as_root() {
            "User nobody\nGroup nogroup\n"
        } else {
            ""
        };
        std::fs::write(
            &conf,
            format!(
                "{user}Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{}\"\nLogLevel Info\nMaxClients 20\nAllow 127.0.0.1\nConnectPort {connect_port}\n",
                log.display()
            ),
        )
        .unwrap();
        let child = Command::new(binary())
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tinyproxy starts");
        for _ in 0..500 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Tinyproxy {
            url: format!("http://127.0.0.1:{port}"),
            log,
            _child: child,
            _dir: dir,
        }
    }

    /// The targets of the CONNECT requests tinyproxy logged, in order (`host:port`).
    pub fn connects(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.split(": CONNECT ").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_string)
            .collect()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.uid() == 0
        })
        .unwrap_or(false)
}

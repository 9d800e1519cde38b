//! HR exports dropped on an SFTP server (SuccessFactors, ADP, Oracle HCM, UKG): `validate` and
//! `upload --source sftp://…` against a real OpenSSH sshd started here (tests/common/sshd.rs)
//! with a host key and a client key made by the test; the newest of a dated pattern; a wrong
//! host key, a missing known_hosts, a wrong password and a wrong key; a file replaced mid-run;
//! the server dropping the connection mid-transfer; and no secret in anything printed at trace
//! level.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::cli::*;
use common::proxy::Tinyproxy;
use common::sshd::{PASSWORD_USER, Sshd, keygen, password_user};
use common::*;
use hrconnector::source::{
    CsvSource, SftpLocation, SftpSource, SftpSourceConfig, SshAuth, TrustedHosts,
};

struct Setup {
    sshd: Sshd,
    records: Vec<Vec<String>>,
}

impl Setup {
    fn new() -> Self {
        let sshd = Sshd::start();
        let (path, records) = write_csv(&sshd.files, "terminations.csv", 25);
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        Setup { sshd, records }
    }

    fn key_args(&self) -> Vec<String> {
        self.key_args_with(&self.sshd.known_hosts.display().to_string())
    }

    /// Key login, trusting the host keys of the file `known`.
    fn key_args_with(&self, known: &str) -> Vec<String> {
        vec![
            "--ssh-private-key-file".into(),
            self.sshd.client_key.display().to_string(),
            "--ssh-known-hosts".into(),
            known.to_owned(),
        ]
    }

    async fn validate(&self, url: &str, extra: &[String]) -> Run {
        self.validate_with_env(url, extra, &[]).await
    }

    async fn validate_with_env(&self, url: &str, extra: &[String], env: &[(&str, &str)]) -> Run {
        let mut args = vec!["validate", "--source", url];
        args.extend(extra.iter().map(String::as_str));
        let run = hrconnector(&args, env).await;
        assert_no_secret(&run);
        run
    }

    /// `upload --source URL` to `emu`, logged in with the client key.
    async fn upload(&self, emu: &hrconnector::emulator::EmulatorHandle, url: &str) -> Run {
        let emu_url = emu.url();
        let mut args = upload_args(&emu_url, "unused", APP, &["--app-secret", SECRET]);
        let at = args.iter().position(|a| *a == "--csv-file-path").unwrap();
        args.splice(at..at + 2, ["--source", url]);
        let key_args = self.key_args();
        args.extend(key_args.iter().map(String::as_str));
        let run = hrconnector(&args, &[]).await;
        assert_no_secret(&run);
        run
    }

    fn secret_file(&self, name: &str, value: &str) -> String {
        let path = self.sshd.dir.path().join(name);
        std::fs::write(&path, format!("{value}\n")).unwrap();
        path.display().to_string()
    }
}

/// Neither the client key nor the test account's password in anything printed.
fn assert_no_secret(run: &Run) {
    let password = password_user();
    assert!(!run.printed(&password), "the password was printed");
    for line in ["BEGIN OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAA"] {
        assert!(
            !run.printed(line),
            "key material was printed:\n{}",
            run.stderr
        );
    }
}

fn set_modified(path: &std::path::Path, ago: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - ago).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn one_file_is_validated_and_uploaded_with_a_key() {
    let s = Setup::new();
    let url = s.sshd.url(&s.sshd.user, "terminations.csv");
    let run = s.validate(&url, &s.key_args()).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!("{url}: 25 records, valid")),
        "{}",
        run.stdout
    );

    let emu = start_emulator().await;
    let logins = s.sshd.logins();
    let up = s.upload(&emu, &url).await;
    assert_eq!(up.code, 0, "{}{}", up.stdout, up.stderr);
    assert_eq!(json(&up)["result"], "Succeeded");
    assert_eq!(emu.received_records(JOB), s.records);
    // One connection for the whole command: validation and sending read the pinned file.
    assert_eq!(
        s.sshd.logins() - logins,
        1,
        "{}",
        std::fs::read_to_string(&s.sshd.log).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_logs_in_and_a_wrong_password_or_key_is_refused_by_name() {
    let s = Setup::new();
    let password = password_user();
    let url = s.sshd.url(PASSWORD_USER, "terminations.csv");
    let known = s.sshd.known_hosts.display().to_string();
    let good = s.secret_file("password", &password);
    let run = s
        .validate(
            &url,
            &[
                "--ssh-password-file".into(),
                good,
                "--ssh-known-hosts".into(),
                known.clone(),
            ],
        )
        .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("25 records, valid"), "{}", run.stdout);

    let wrong = s.secret_file("wrong-password", "not-the-password");
    let run = s
        .validate(
            &url,
            &[
                "--ssh-password-file".into(),
                wrong,
                "--ssh-known-hosts".into(),
                known.clone(),
            ],
        )
        .await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "the server refused the password of user \"{PASSWORD_USER}\""
        )),
        "{}",
        run.stderr
    );
    assert!(!run.printed("not-the-password"));

    let other_key = s.sshd.dir.path().join("other_key");
    keygen(&other_key);
    let url = s.sshd.url(&s.sshd.user, "terminations.csv");
    let run = s
        .validate(
            &url,
            &[
                "--ssh-private-key-file".into(),
                other_key.display().to_string(),
                "--ssh-known-hosts".into(),
                known,
            ],
        )
        .await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("the server refused the private key of user"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_host_key_fails_before_login_naming_the_presented_fingerprint() {
    let s = Setup::new();
    let url = s.sshd.url(&s.sshd.user, "terminations.csv");
    let impostor = s.sshd.dir.path().join("impostor");
    keygen(&impostor);
    let public = std::fs::read_to_string(s.sshd.dir.path().join("impostor.pub")).unwrap();
    let mut parts = public.split_whitespace();
    let line = format!(
        "[127.0.0.1]:{} {} {}\n",
        s.sshd.port,
        parts.next().unwrap(),
        parts.next().unwrap()
    );
    let known = s.secret_file("impostor_known_hosts", &line);
    let logins = s.sshd.logins();
    let run = s.validate(&url, &s.key_args_with(&known)).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "127.0.0.1:{}: the host key does not match",
            s.sshd.port
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&s.sshd.host_fingerprint),
        "the presented key's fingerprint {} is named: {}",
        s.sshd.host_fingerprint,
        run.stderr
    );
    assert_eq!(s.sshd.logins(), logins, "no login was attempted");

    // A known_hosts that does not list the host at all is refused the same way.
    let elsewhere = s.secret_file("elsewhere", &line.replace("127.0.0.1", "10.9.9.9"));
    let run = s.validate(&url, &s.key_args_with(&elsewhere)).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("do not list for this host"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_known_hosts_nothing_is_trusted_on_first_use() {
    let s = Setup::new();
    let url = s.sshd.url(&s.sshd.user, "terminations.csv");
    let key = s.sshd.client_key.display().to_string();
    let logins = s.sshd.logins();
    let run = s
        .validate(&url, &["--ssh-private-key-file".into(), key.clone()])
        .await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("needs --ssh-known-hosts FILE"),
        "{}",
        run.stderr
    );
    let missing = s.sshd.dir.path().join("no_such_known_hosts");
    let run = s
        .validate(
            &url,
            &[
                "--ssh-private-key-file".into(),
                key,
                "--ssh-known-hosts".into(),
                missing.display().to_string(),
            ],
        )
        .await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("cannot read --ssh-known-hosts"),
        "{}",
        run.stderr
    );
    assert_eq!(s.sshd.logins(), logins, "nothing connected");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_newest_of_a_dated_pattern_is_chosen_and_no_match_lists_what_is_there() {
    let s = Setup::new();
    let dir = &s.sshd.files;
    let (old, _) = write_csv(dir, "terminations_2026-11-30.csv", 3);
    let (newest, records) = write_csv(dir, "terminations_2026-12-01.csv", 7);
    let (older, _) = write_csv(dir, "terminations_2026-11-29.csv", 4);
    // A writer's hidden part file, newer still, is never taken.
    let (part, _) = write_csv(dir, ".terminations_2026-12-02.csv", 2);
    for (path, hours) in [(&older, 72), (&old, 48), (&newest, 24), (&part, 1)] {
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        set_modified(path, Duration::from_secs(hours * 3600));
    }
    let url = s.sshd.url(&s.sshd.user, "terminations_*.csv");
    let run = s.validate(&url, &s.key_args()).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let chosen = s.sshd.url(&s.sshd.user, "terminations_2026-12-01.csv");
    assert!(
        run.stderr.contains(&format!("chose {chosen} (")),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains(&format!("{chosen}: 7 records, valid")),
        "{}",
        run.stdout
    );

    let emu = start_emulator().await;
    let up = s.upload(&emu, &url).await;
    assert_eq!(up.code, 0, "{}{}", up.stdout, up.stderr);
    assert_eq!(emu.received_records(JOB), records);

    let url = s.sshd.url(&s.sshd.user, "hires_*.csv");
    let run = s.validate(&url, &s.key_args()).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("no file matches \"")
            && run.stderr.contains("hires_*.csv")
            && run.stderr.contains("terminations_2026-11-29.csv"),
        "{}",
        run.stderr
    );
}

/// The library's source, logged in with the client key.
fn source(s: &Setup, name: &str) -> SftpSource {
    let location = SftpLocation::parse(&s.sshd.url(&s.sshd.user, name)).unwrap();
    let known = std::fs::read_to_string(&s.sshd.known_hosts).unwrap();
    let key = std::fs::read_to_string(&s.sshd.client_key).unwrap();
    SftpSource::new(
        SftpSourceConfig {
            egress: Arc::new(
                hrconnector::net::EgressPolicy::published_only()
                    .allowing_origin_of(&location.origin_url()),
            ),
            location,
            auth: SshAuth::PrivateKey(key.into()),
            known_hosts: Arc::new(TrustedHosts::parse(&known, "known_hosts").unwrap()),
            retry: hrconnector::upload::RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(50),
                ..Default::default()
            },
            sleeper: Arc::new(hrconnector::upload::TokioSleeper),
        },
        tokio::runtime::Handle::current(),
    )
    .unwrap()
}

fn read_all(source: &dyn CsvSource) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    source.open()?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_replaced_or_rewritten_mid_run_is_source_changed() {
    let s = Setup::new();
    let sftp = source(&s, "terminations.csv");
    let version = sftp.head().await.unwrap();
    let pinned = sftp.pin_version(&version);
    let first = tokio::task::spawn_blocking({
        let pinned = pinned.clone();
        move || read_all(pinned.as_ref())
    })
    .await
    .unwrap()
    .unwrap();
    let served = s.sshd.files.join("terminations.csv");
    assert_eq!(first, std::fs::read(&served).unwrap());

    // A new export renamed over the path between the validation and the sending pass.
    let (replacement, _) = write_csv(&s.sshd.files, "next.csv", 40);
    std::fs::rename(&replacement, &served).unwrap();
    let second = tokio::task::spawn_blocking({
        let pinned = pinned.clone();
        move || read_all(pinned.as_ref())
    })
    .await
    .unwrap();
    let error = second.expect_err("the replaced file is not read as the pinned one");
    assert!(hrconnector::source::is_changed(&error), "{error}");

    // Written in place while a pass reads it: the end of the pass notices.
    let (_, _) = write_csv(&s.sshd.files, "big.csv", 60_000);
    let big = s.sshd.files.join("big.csv");
    std::fs::set_permissions(&big, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let sftp = source(&s, "big.csv");
    let version = sftp.head().await.unwrap();
    let pinned = sftp.pin_version(&version);
    let result = tokio::task::spawn_blocking(move || {
        let mut reader = pinned.open()?;
        let mut head = vec![0u8; 4096];
        reader.read_exact(&mut head)?;
        let mut file = std::fs::OpenOptions::new().append(true).open(&big)?;
        std::io::Write::write_all(&mut file, b"late@contoso.com,2026-03-01T09:00:00Z,,x\n")?;
        file.set_modified(SystemTime::now() + Duration::from_secs(5))?;
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).map(|_| ())
    })
    .await
    .unwrap();
    let error = result.expect_err("a file written in place fails the pass");
    assert!(hrconnector::source::is_changed(&error), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_dropped_mid_transfer_is_opened_again_and_read_on() {
    let s = Setup::new();
    let (_, _) = write_csv(&s.sshd.files, "big.csv", 120_000);
    let big = s.sshd.files.join("big.csv");
    std::fs::set_permissions(&big, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let expected = std::fs::read(&big).unwrap();
    assert!(expected.len() > 8 << 20, "{} bytes", expected.len());
    let sftp = source(&s, "big.csv");
    let version = sftp.head().await.unwrap();
    let pinned = sftp.pin_version(&version);
    let logins = s.sshd.logins();
    let sshd = &s.sshd;
    let (bytes, dropped) = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut reader = pinned.open().unwrap();
                let mut bytes = vec![0u8; 3 << 20];
                reader.read_exact(&mut bytes).unwrap();
                let dropped = sshd.drop_sessions();
                reader.read_to_end(&mut bytes).unwrap();
                (bytes, dropped)
            })
            .join()
            .unwrap()
    });
    assert!(dropped >= 1, "a session was ended");
    assert_eq!(bytes.len(), expected.len());
    assert!(bytes == expected, "the bytes read are the file's");
    // The login that found the version was read through, then one more after the drop.
    assert_eq!(s.sshd.logins() - logins, 1, "one login after the drop");
}

/// Agencies reach outside hosts through an HTTP proxy: an SFTP connection goes through the
/// proxy of `HTTPS_PROXY` as a CONNECT tunnel (a real tinyproxy), a host `NO_PROXY` lists is
/// reached directly, and a proxy that refuses the tunnel is named with its answer.
#[tokio::test(flavor = "multi_thread")]
async fn sftp_goes_through_the_https_proxy_unless_no_proxy_lists_the_host() {
    let s = Setup::new();
    let url = s.sshd.url(&s.sshd.user, "terminations.csv");
    let proxy = Tinyproxy::start(s.sshd.port).await;
    let through = [("HTTPS_PROXY", proxy.url.as_str())];
    let run = s.validate_with_env(&url, &s.key_args(), &through).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("25 records, valid"), "{}", run.stdout);
    let tunnel = format!("127.0.0.1:{}", s.sshd.port);
    assert_eq!(
        proxy.connects(),
        std::slice::from_ref(&tunnel),
        "{}",
        proxy.log_text()
    );

    let direct = [
        ("HTTPS_PROXY", proxy.url.as_str()),
        ("NO_PROXY", "127.0.0.1"),
    ];
    let run = s.validate_with_env(&url, &s.key_args(), &direct).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(proxy.connects(), [tunnel], "NO_PROXY: no second tunnel");

    // A proxy that tunnels to another port only, given with a login.
    let strict = Tinyproxy::start(1).await;
    let with_login = strict.url.replace("http://", "http://hr:proxy-pa55@");
    let refused = [("HTTPS_PROXY", with_login.as_str())];
    let run = s.validate_with_env(&url, &s.key_args(), &refused).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        !run.printed("proxy-pa55"),
        "the proxy's password was printed"
    );
    // The proxy's policy: named, with its answer, and not asked again.
    assert!(
        run.stderr.contains(&format!(
            "the proxy {} from HTTPS_PROXY will not tunnel to it",
            strict.url
        )) && run.stderr.contains(" 403 "),
        "{}",
        run.stderr
    );
    assert_eq!(strict.connects().len(), 1, "{}", strict.log_text());
}

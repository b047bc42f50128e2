//! A real Kannel for tests and `bench sms`: bearerbox and smsbox from Debian's `kannel` package, Kannel's own
//! `fakesmsc` as the SMSC, and a second "reject" SMSC (Kannel's generic HTTP SMSC posting to a tiny server here
//! that answers `REJECT`). Every rig has its own directory and ports. `scripts/test` installs the packages.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use tokio::process::{Child, Command};

const BEARERBOX: &str = "/usr/sbin/bearerbox";
const SMSBOX: &str = "/usr/sbin/smsbox";
const FAKESMSC: &str = "/usr/lib/kannel/test/fakesmsc";

/// One message as the fake SMSC received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtSmsc {
    pub from: String,
    pub to: String,
    /// The text, decoded (UCS-2 parts are decoded separately; `udh` is set for parts of a long SMS).
    pub text: String,
    pub udh: Option<Vec<u8>>,
}

pub struct KannelRig {
    dir: PathBuf,
    log_messages: bool,
    pub sendsms_url: String,
    fake_port: u16,
    admin_port: u16,
    children: Vec<Child>,
    fakesmsc: Option<Child>,
    reject: tokio::task::JoinHandle<()>,
}

/// A port nothing listens on now (bound and released; tests and the bench pick their ports with it).
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn log_file(dir: &std::path::Path, name: &str) -> Stdio {
    Stdio::from(std::fs::File::create(dir.join(name)).unwrap())
}

impl KannelRig {
    /// Whether Kannel's boxes and its fake SMSC are installed.
    #[must_use]
    pub fn installed() -> bool {
        Path::new(BEARERBOX).exists() && Path::new(FAKESMSC).exists()
    }

    /// Starts a rig under `parent`; `log_messages`: the fake SMSC logs every message (for [`Self::at_smsc`]).
    ///
    /// # Panics
    /// Kannel is not installed, or a box does not come up within 20 s (the message names the rig's directory).
    pub async fn start(parent: &Path, log_messages: bool) -> Self {
        assert!(
            Self::installed(),
            "Kannel is not installed: run scripts/test (it installs the kannel and kannel-extras packages)"
        );
        let dir = parent.join(format!("kannel-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let (admin_port, box_port, sendsms_port, fake_port, reject_smsc_port) =
            (free_port(), free_port(), free_port(), free_port(), free_port());
        let reject_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let reject_port = reject_listener.local_addr().unwrap().port();
        let reject = tokio::spawn(async move {
            let app = axum::Router::new().fallback(|| async { "REJECT" });
            let _ = axum::serve(reject_listener, app).await;
        });
        let conf = include_str!("../config/kannel-rig.conf.in")
            .replace("@ADMIN_PORT@", &admin_port.to_string())
            .replace("@BOX_PORT@", &box_port.to_string())
            .replace("@SENDSMS_PORT@", &sendsms_port.to_string())
            .replace("@FAKE_PORT@", &fake_port.to_string())
            .replace("@REJECT_SMSC_PORT@", &reject_smsc_port.to_string())
            .replace("@LOG_LEVEL@", if log_messages { "1" } else { "2" })
            .replace("@REJECT_URL@", &format!("http://127.0.0.1:{reject_port}/smsc/reject"));
        std::fs::write(dir.join("kannel.conf"), conf).unwrap();
        let spawn = |bin: &str, log: &str| {
            Command::new(bin)
                .args(["-v", "2", "kannel.conf"])
                .current_dir(&dir)
                .stdout(log_file(&dir, log))
                .stderr(log_file(&dir, &format!("{log}.err")))
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        };
        let bearerbox = spawn(BEARERBOX, "bearerbox.out");
        let mut rig = Self {
            sendsms_url: format!("http://127.0.0.1:{sendsms_port}/cgi-bin/sendsms"),
            fake_port,
            admin_port,
            children: vec![bearerbox],
            fakesmsc: None,
            reject,
            dir: dir.clone(),
            log_messages,
        };
        rig.wait_for_status("SMSC connections", Duration::from_secs(20)).await;
        rig.children.push(spawn(SMSBOX, "smsbox.out"));
        rig.start_fakesmsc().await;
        rig.wait_for_sendsms().await;
        rig
    }

    /// Starts (or restarts) the fake SMSC and waits until bearerbox has it online.
    pub async fn start_fakesmsc(&mut self) {
        let log = format!(
            "fakesmsc-{}.log",
            self.children.len() + usize::from(self.fakesmsc.is_some())
        );
        let child = Command::new(FAKESMSC)
            .args([
                "-v",
                if self.log_messages { "0" } else { "2" },
                "-H",
                "127.0.0.1",
                "-r",
                &self.fake_port.to_string(),
                "-m",
                "0",
                "0 0 text unused",
            ])
            .current_dir(&self.dir)
            .stdout(log_file(&self.dir, &log))
            .stderr(log_file(&self.dir, &format!("{log}.err")))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        if let Some(mut old) = self.fakesmsc.replace(child) {
            let _ = old.kill().await;
        }
        self.wait_for_status("fake", Duration::from_secs(20)).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self
            .status()
            .await
            .lines()
            .any(|l| l.contains("fake") && l.contains("online"))
        {
            assert!(
                Instant::now() < deadline,
                "fakesmsc did not come online:\n{}",
                self.status().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the fake SMSC (an SMSC outage: Kannel queues and answers `3: Queued for later delivery`).
    pub async fn stop_fakesmsc(&mut self) {
        if let Some(mut c) = self.fakesmsc.take() {
            let pid = c.id().unwrap();
            let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status().await;
            let _ = tokio::time::timeout(Duration::from_secs(5), c.wait()).await;
            let _ = c.kill().await;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while self
            .status()
            .await
            .lines()
            .any(|l| l.contains("fake") && l.contains("online"))
        {
            assert!(Instant::now() < deadline, "fakesmsc still online");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn status(&self) -> String {
        let url = format!(
            "http://127.0.0.1:{}/cgi-bin/status.txt?password=rigstatus",
            self.admin_port
        );
        match reqwest::get(&url).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    async fn wait_for_status(&self, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.status().await.contains(needle) {
            assert!(
                Instant::now() < deadline,
                "bearerbox status never showed {needle:?}; see {}",
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_for_sendsms(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if reqwest::get(&self.sendsms_url).await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "smsbox never listened; see {}",
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every message fake SMSCs received so far, in order.
    pub fn at_smsc(&self) -> Vec<AtSmsc> {
        let mut out = Vec::new();
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("fakesmsc-"))
            .collect();
        logs.sort();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            out.extend(text.lines().filter_map(parse_fakesmsc_line));
        }
        out
    }
}

impl Drop for KannelRig {
    fn drop(&mut self) {
        self.reject.abort();
    }
}

/// `Got message N: <from to TYPE DATA>` with TYPE `text`, `ucs-2` (URL-encoded UTF-16BE, `+` for 0x20) or
/// `udh UDH ucs-2 DATA`.
fn parse_fakesmsc_line(line: &str) -> Option<AtSmsc> {
    let rest = line.split("Got message").nth(1)?;
    let body = rest.split_once(": <")?.1.trim_end().trim_end_matches('>');
    let mut parts = body.splitn(3, ' ');
    let (from, to, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let (udh, rest) = match rest.strip_prefix("udh ") {
        Some(r) => {
            let (u, r) = r.split_once(' ')?;
            (Some(url_bytes(u)), r.strip_prefix("data ").unwrap_or(r))
        }
        None => (None, rest),
    };
    let text = if let Some(d) = rest.strip_prefix("ucs-2 ") {
        utf16be(&url_bytes(d))
    } else if let Some(d) = rest.strip_prefix("text ") {
        d.to_owned()
    } else {
        utf16be(&url_bytes(rest))
    };
    Some(AtSmsc {
        from: from.to_owned(),
        to: to.to_owned(),
        text,
        udh,
    })
}

fn url_bytes(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn utf16be(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
        .collect();
    String::from_utf16_lossy(&units)
}

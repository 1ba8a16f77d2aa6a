//! The operator binary as a child process, watching one cluster's namespace, with its memory
//! and CPU read from `/proc`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cluster::Cluster;

/// The operator as a child process.
pub struct OperatorProcess {
    child: Child,
    _dir: std::path::PathBuf,
}

impl OperatorProcess {
    /// Starts the operator watching the cluster's namespace.
    pub fn start(kube: &Cluster, concurrency: u16) -> Self {
        Self::start_with(kube, concurrency, &["--http-addr", "127.0.0.1:0"])
    }

    /// Starts the operator watching the cluster's namespace, with `args` besides.
    pub fn start_with(kube: &Cluster, concurrency: u16, args: &[&str]) -> Self {
        let dir = kube.dir().to_path_buf();
        let child = Command::new(env!("CARGO_BIN_EXE_exo-operator"))
            .arg("run")
            .args(args)
            .arg("--concurrency")
            .arg(concurrency.to_string())
            .arg("--namespaces")
            .arg(&kube.namespace)
            .arg("--kubeconfig")
            .arg(&kube.kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the exo-operator binary");
        Self { child, _dir: dir }
    }

    /// A memory figure of `/proc/PID/status` (`VmHWM:`, `VmRSS:`) in MiB; 0 if unreadable.
    fn status_field(&self, field: &str) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with(field))?.to_string();
                line.split_whitespace().nth(1)?.parse::<f64>().ok()
            })
            .map(|kib| kib / 1024.0)
            .unwrap_or(0.0)
    }

    /// Peak resident memory, MiB.
    pub fn peak_rss(&self) -> f64 {
        self.status_field("VmHWM:")
    }

    /// Resident memory now, MiB.
    pub fn rss(&self) -> f64 {
        self.status_field("VmRSS:")
    }

    /// CPU time used so far (user + system).
    pub fn cpu(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // Fields 14 and 15 of /proc/PID/stat (utime, stime), counted after the command name.
        let total = ticks(11) + ticks(12);
        Duration::from_millis(total * 10)
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

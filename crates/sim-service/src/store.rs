//! The service's durable state (every registered tenant's record) and its state file: JSON,
//! replaced atomically (written beside it, flushed, renamed over it, the folder flushed), so
//! that a crash leaves either the old or the new file, never a torn one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::tenant::TenantRecord;

/// The state file's format version.
pub const FORMAT: u32 = 1;
/// Most tenants the service registers.
pub const MAX_TENANTS: usize = 10_000;

/// Every registered tenant, by lowercase tenant id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Store {
    /// The file format (`FORMAT`).
    pub format: u32,
    /// Tenants by lowercase GUID.
    pub tenants: BTreeMap<String, TenantRecord>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            format: FORMAT,
            tenants: BTreeMap::new(),
        }
    }

    /// The store in `path`, or an empty one when there is no such file.
    pub fn load(path: &Path) -> anyhow::Result<Store> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Store::new()),
            Err(e) => anyhow::bail!("cannot read the state file {}: {e}", path.display()),
        };
        let store: Store = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{} is not a state file: {e}", path.display()))?;
        if store.format != FORMAT {
            anyhow::bail!(
                "{} has format {}, this service reads {FORMAT}",
                path.display(),
                store.format
            );
        }
        Ok(store)
    }

    /// The store as the state file holds it.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Replaces `path` with `bytes` atomically and durably.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the state file needs a file name"))?;
    let mut temporary_name = file_name.to_os_string();
    temporary_name.push(".tmp");
    let temporary: PathBuf = path.with_file_name(temporary_name);
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Flushing the folder makes the rename durable; not every platform allows it.
    if let Ok(dir) = std::fs::File::open(folder) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_then_loaded() {
        let dir =
            std::env::temp_dir().join(format!("exo-sim-service-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        let _ = std::fs::remove_file(&path);
        assert_eq!(Store::load(&path).unwrap(), Store::new());
        let store = Store::new();
        write_atomically(&path, &store.to_bytes()).unwrap();
        assert_eq!(Store::load(&path).unwrap(), store);
        assert!(!dir.join("state.json.tmp").exists());
        std::fs::write(&path, b"{not json").unwrap();
        assert!(Store::load(&path).is_err());
        std::fs::write(&path, br#"{"format": 99, "tenants": {}}"#).unwrap();
        assert!(
            Store::load(&path)
                .unwrap_err()
                .to_string()
                .contains("format 99")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Checkpoints in the `storage` extension's directory: for each known file, its fingerprint,
//! how far it was read and how many records it had. Written atomically (temp file + rename)
//! after each poll, once the poll's records were handed on, so a restart neither loses nor
//! repeats a record (a crash between the hand-off and the write repeats at most one poll).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Hex of the fingerprint bytes.
    pub fingerprint: String,
    pub offset: u64,
    pub record_number: u64,
}

pub struct Store {
    file: PathBuf,
}

impl Store {
    pub fn new(directory: &Path) -> Result<Store, String> {
        std::fs::create_dir_all(directory)
            .map_err(|e| format!("cannot create checkpoint directory {directory:?}: {e}"))?;
        Ok(Store {
            file: directory.join("checkpoints.json"),
        })
    }

    pub fn load(&self) -> Result<Vec<Checkpoint>, String> {
        match std::fs::read(&self.file) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| format!("checkpoint file {:?} is corrupt: {e}", self.file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(format!("cannot read checkpoint file {:?}: {e}", self.file)),
        }
    }

    pub fn save(&self, checkpoints: &[Checkpoint]) -> Result<(), String> {
        let tmp = self.file.with_extension("json.tmp");
        let bytes = serde_json::to_vec(checkpoints).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, bytes)
            .and_then(|_| std::fs::rename(&tmp, &self.file))
            .map_err(|e| format!("cannot write checkpoint file {:?}: {e}", self.file))
    }
}

pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

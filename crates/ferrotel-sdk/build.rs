//! Records the compiler's version for the `process.runtime.version` resource attribute.

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    // "rustc 1.88.0 (6b00bc388 2025-06-23)" → "1.88.0" and the whole line as the description.
    let number = version.split_whitespace().nth(1).unwrap_or("unknown");
    println!("cargo:rustc-env=FERROTEL_RUSTC_VERSION={number}");
    println!("cargo:rustc-env=FERROTEL_RUSTC_DESCRIPTION={}", version.trim());
    println!("cargo:rerun-if-env-changed=RUSTC");
}

//! The certificate authorities a sandbox trusts for TLS through its door: the host's CA
//! bundle, or that bundle with the operator's own CA appended (a corporate proxy's, a
//! private index's), bound read-only where Debian's tools look for it, and the variables
//! that make pip, requests, Node and OpenSSL read it.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// The host's bundle (Debian's `ca-certificates`).
pub const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Where the sandbox finds its bundle: the standard path, which OpenSSL's default
/// (`/usr/lib/ssl/cert.pem`) links to.
pub const SANDBOX_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The bundle the daemon writes into its state directory when the operator adds a CA.
const COMBINED_NAME: &str = "ca-certificates.crt";

/// The variables that point each tool at [`SANDBOX_CA_BUNDLE`].
const VARIABLES: [&str; 4] = ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "NODE_EXTRA_CA_CERTS"];

/// The variables of a sandbox whose bundle is bound (none without one: a variable naming a
/// missing file makes Node warn on every start and requests fail).
pub(crate) fn variables(bundle: Option<&Path>) -> Vec<(String, String)> {
    match bundle {
        Some(_) => VARIABLES.iter().map(|name| (name.to_string(), SANDBOX_CA_BUNDLE.to_string())).collect(),
        None => Vec::new(),
    }
}

/// The host file sandboxes get as their bundle: `host` as it is, or, with `extra` (a PEM
/// file of one or more certificates), `host` and `extra` concatenated into `state_dir`.
/// `None`: the host has no bundle and no CA was added. An `extra` that is missing or holds
/// no certificate is an error naming it.
pub fn ca_bundle(host: &Path, extra: Option<&Path>, state_dir: &Path) -> Result<Option<PathBuf>, String> {
    let Some(extra) = extra else { return Ok(host.is_file().then(|| host.to_path_buf())) };
    let added = std::fs::read(extra).map_err(|e| format!("cannot read {}: {e}", extra.display()))?;
    let certificates = CertificateDer::pem_slice_iter(&added)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not a PEM file of certificates: {e}", extra.display()))?;
    if certificates.is_empty() {
        return Err(format!("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", extra.display()));
    }
    let mut combined = match std::fs::read(host) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", host.display())),
    };
    if !combined.is_empty() && !combined.ends_with(b"\n") {
        combined.push(b'\n');
    }
    combined.extend_from_slice(&added);
    let path = state_dir.join(COMBINED_NAME);
    write_replacing(&path, &combined).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Some(path))
}

/// Writes `path` whole or not at all (sandboxes of another daemon may be binding it): a
/// file of its own renamed over it. Left as it is when it already holds `contents`: a
/// replaced bind source makes the sandboxes started ahead with it stale.
fn write_replacing(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::read(path).is_ok_and(|now| now == contents) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let fresh = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&fresh, contents)?;
    // Read by the sandbox's own user through the bind.
    std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o644))?;
    std::fs::rename(&fresh, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n";

    #[test]
    fn the_hosts_bundle_as_it_is_or_with_the_operators_ca_appended() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("host.crt");
        assert_eq!(ca_bundle(&host, None, dir.path()), Ok(None), "no bundle on the host, none added");
        std::fs::write(&host, "HOST").unwrap();
        assert_eq!(ca_bundle(&host, None, dir.path()), Ok(Some(host.clone())));
        let extra = dir.path().join("corp.pem");
        std::fs::write(&extra, PEM).unwrap();
        let state = dir.path().join("state");
        let combined = ca_bundle(&host, Some(&extra), &state).unwrap().unwrap();
        assert_eq!(combined, state.join(COMBINED_NAME));
        assert_eq!(std::fs::read_to_string(&combined).unwrap(), format!("HOST\n{PEM}"));
        assert_eq!(variables(Some(&combined)).len(), VARIABLES.len());
        assert!(variables(None).is_empty());
    }

    #[test]
    fn an_added_ca_that_is_not_pem_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("host.crt");
        let extra = dir.path().join("corp.pem");
        let missing = ca_bundle(&host, Some(&extra), dir.path()).unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
        std::fs::write(&extra, "not a certificate\n").unwrap();
        let empty = ca_bundle(&host, Some(&extra), dir.path()).unwrap_err();
        assert!(empty.contains("no PEM certificate"), "{empty}");
        std::fs::write(&extra, "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n").unwrap();
        let broken = ca_bundle(&host, Some(&extra), dir.path()).unwrap_err();
        assert!(broken.contains("not a PEM file"), "{broken}");
    }
}

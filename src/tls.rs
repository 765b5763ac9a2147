//! TLS setup: rustls with the ring crypto provider, installed once per process
//! before any HTTPS client (S3 over https, the load generator) is built.

/// Installs ring as the process-wide rustls provider; later calls do nothing.
pub fn ensure_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

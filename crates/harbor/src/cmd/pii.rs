//! The PII masker from the `[pii]` settings, with its hash key.

use std::io::Read;

use anyhow::Context;
use harbor_ai::Masker;
use secrecy::ExposeSecret;

use crate::settings::Settings;

/// The masker when `[pii] enabled` (or `HARBOR_PII__ENABLED=true`). The key comes from
/// `[pii] key` / `HARBOR_PII_KEY`, or is created once (32 random bytes) in
/// `<workdir>/<pipeline>/pii.key` so hashes stay stable across runs.
pub fn masker(settings: &Settings) -> anyhow::Result<Option<Masker>> {
    let opts = &settings.pii;
    if !opts.enabled {
        return Ok(None);
    }
    if let Some(k) = opts.key.as_ref() {
        return Ok(Some(Masker::new(opts, k.expose_secret().as_bytes())));
    }
    if let Ok(k) = std::env::var("HARBOR_PII_KEY")
        && !k.is_empty()
    {
        return Ok(Some(Masker::new(opts, k.as_bytes())));
    }
    let dir = settings.workdir.join(&settings.pipeline);
    let path = dir.join("pii.key");
    let key = match std::fs::read(&path) {
        Ok(k) if !k.is_empty() => k,
        _ => {
            let mut k = vec![0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut k))
                .context("cannot read random bytes for the PII hash key")?;
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            std::fs::write(&path, &k).with_context(|| format!("cannot write {}", path.display()))?;
            k
        }
    };
    Ok(Some(Masker::new(opts, &key)))
}

/// The settings' extract options with the `[pii]` masker (when enabled) applied to every record
/// before it is normalized, so masked values are all that reach the destination.
pub fn extract_options(settings: &Settings) -> anyhow::Result<harbor_pipeline::ExtractOptions> {
    let mut extract = settings.extract_options()?;
    if let Some(m) = masker(settings)? {
        extract.transform = Some(harbor_pipeline::RecordTransform(std::sync::Arc::new(move |v| {
            m.mask_record(v)
        })));
    }
    Ok(extract)
}

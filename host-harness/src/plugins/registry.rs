//! The marketplace: any OCI distribution registry (oci-client). A package
//! is published as a CNCF Wasm OCI artifact: the package file is the one
//! layer (`application/wasm`), the config `application/vnd.wasm.config.v0+json`,
//! the repository the plugin's id, the tag its version (never
//! overwritten), with the usual `org.opencontainers.image.*` annotations.
//! oci-client checks each blob against its digest; so do we, once more.

use super::package::Manifest;
use anyhow::{Context, Result, bail, ensure};
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";

pub struct Registry {
    client: Client,
    /// `host[:port]`
    host: String,
}

impl Registry {
    /// `http://127.0.0.1:5000` (plain HTTP, for loopback registries),
    /// `https://registry.example.com`, or a bare host (HTTPS).
    pub fn new(url: &str) -> Result<Registry> {
        let (protocol, host) = match url.trim().split_once("://") {
            Some(("http", host)) => (ClientProtocol::Http, host),
            Some(("https", host)) => (ClientProtocol::Https, host),
            Some((other, _)) => bail!("--registry {url}: the scheme {other} is neither http nor https"),
            None => (ClientProtocol::Https, url.trim()),
        };
        let host = host.trim_end_matches('/').to_string();
        ensure!(!host.is_empty() && !host.contains('/'), "--registry {url}: give the registry's address, as http://127.0.0.1:5000");
        let client = Client::new(ClientConfig { protocol, ..Default::default() });
        Ok(Registry { client, host })
    }

    fn reference(&self, id: &str, version: &str) -> Reference {
        Reference::with_tag(self.host.clone(), id.to_string(), version.to_string())
    }

    /// The versions published of `id`, lowest first (none: not there).
    pub async fn versions(&self, id: &str) -> Result<Vec<semver::Version>> {
        let reference = self.reference(id, "latest");
        let tags = match self.client.list_tags(&reference, &RegistryAuth::Anonymous, None, None).await {
            Ok(tags) => tags.tags,
            // A repository nothing was pushed to: no versions.
            Err(oci_client::errors::OciDistributionError::RegistryError { envelope, .. })
                if envelope.errors.iter().any(|e| e.code == oci_client::errors::OciErrorCode::NameUnknown) =>
            {
                Vec::new()
            }
            Err(e) => return Err(e).with_context(|| format!("listing the versions of {id} at {}", self.host)),
        };
        let mut versions: Vec<semver::Version> = tags.iter().filter_map(|t| semver::Version::parse(t).ok()).collect();
        versions.sort();
        Ok(versions)
    }

    /// Push a package as `id:version`; refused if that version is there.
    pub async fn publish(&self, bytes: &[u8], manifest: &Manifest) -> Result<String> {
        let version = semver::Version::parse(&manifest.version).context("the package's version is not semver")?;
        if self.versions(&manifest.id).await?.contains(&version) {
            bail!("{} {} is published at {} already; a published version is never replaced", manifest.id, manifest.version, self.host);
        }
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
        let title = format!("{}-{}.wasm", manifest.id, manifest.version);
        let layer = ImageLayer::new(bytes.to_vec(), LAYER_MEDIA_TYPE.into(), Some(BTreeMap::from([("org.opencontainers.image.title".into(), title)])));
        let config = serde_json::json!({
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [digest],
            "component": { "target": format!("helpdesk:connector/sync@{}", manifest.api) },
        });
        let config = Config::new(serde_json::to_vec(&config)?, CONFIG_MEDIA_TYPE.into(), None);
        let mut annotations = BTreeMap::from([("org.opencontainers.image.version".to_string(), manifest.version.clone())]);
        for (key, value) in [("licenses", &manifest.license), ("source", &manifest.source), ("description", &manifest.description), ("vendor", &manifest.publisher)] {
            if !value.is_empty() {
                annotations.insert(format!("org.opencontainers.image.{key}"), value.clone());
            }
        }
        let mut oci_manifest = oci_client::manifest::OciImageManifest::build(std::slice::from_ref(&layer), &config, Some(annotations));
        oci_manifest.media_type = Some("application/vnd.oci.image.manifest.v1+json".into());
        let reference = self.reference(&manifest.id, &manifest.version);
        let pushed = self
            .client
            .push(&reference, &[layer], config, &RegistryAuth::Anonymous, Some(oci_manifest))
            .await
            .with_context(|| format!("publishing {} {} to {}", manifest.id, manifest.version, self.host))?;
        Ok(pushed.manifest_url)
    }

    /// The package file of `id` at `version` (the highest published one
    /// when None), its one layer checked against its digest.
    pub async fn fetch(&self, id: &str, version: Option<&str>) -> Result<(Vec<u8>, String)> {
        let version = match version {
            Some(version) => version.to_string(),
            None => self.versions(id).await?.last().with_context(|| format!("{id} is not published at {}", self.host))?.to_string(),
        };
        let reference = self.reference(id, &version);
        let image = self
            .client
            .pull(&reference, &RegistryAuth::Anonymous, vec![LAYER_MEDIA_TYPE])
            .await
            .with_context(|| format!("fetching {id} {version} from {}", self.host))?;
        ensure!(image.layers.len() == 1, "{id} {version} at {} has {} layers; a plugin has one", self.host, image.layers.len());
        let layer = &image.layers[0];
        if let Some(descriptor) = image.manifest.as_ref().and_then(|m| m.layers.first()) {
            let digest = format!("sha256:{}", hex::encode(Sha256::digest(&layer.data)));
            ensure!(digest == descriptor.digest, "{id} {version}: the layer's bytes do not match its digest {}; refused", descriptor.digest);
        }
        Ok((layer.data.to_vec(), version))
    }
}

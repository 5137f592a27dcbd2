//! Opening a store from the operator's URL: `file:///dir`, `memory://`, `s3://bucket/prefix`,
//! `gs://bucket/prefix`, `az://container/prefix`.

use std::sync::Arc;

use molts_core::{Error, Result};
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::signer::Signer;
use url::Url;

use crate::errors::scrub;
use crate::{ObjectBlobStore, sidecar};

impl ObjectBlobStore {
    /// A store over `inner`, an object_store backend that keeps object attributes (S3, GCS,
    /// Azure, memory — not `LocalFileSystem`: use a `file://` URL with [`Self::from_url`]), with
    /// every key under `prefix`. It presigns nothing.
    pub fn new(inner: Arc<dyn ObjectStore>, prefix: &str) -> Result<Self> {
        let prefix = prefix.trim_matches('/').to_owned();
        if !prefix.is_empty() {
            crate::keys::check_key(&prefix)
                .map_err(|_| invalid(format!("'{prefix}' is not a valid key prefix")))?;
        }
        Ok(Self {
            described: format!("{inner}/{prefix}"),
            inner,
            signer: None,
            prefix,
            local: None,
        })
    }

    /// Opens the store at `url`. Cloud backends read their usual environment variables first
    /// (for S3: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL` or `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`; then the instance or task role),
    /// then `options`, object_store's config keys (`aws_endpoint`, `google_service_account`,
    /// `azure_storage_account_name`, …). A `file://` directory is created when missing; local
    /// files and memory take no options.
    ///
    /// Nothing is contacted here: a wrong bucket or credential shows on the first call.
    pub fn from_url<I, K, V>(url: &str, options: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let parsed = Url::parse(url).map_err(|_| {
            invalid(format!(
                "'{}' is not a URL; use file:///dir, s3://bucket/prefix, gs://bucket, \
                 az://container or memory://",
                scrub(url)
            ))
        })?;
        let options: Vec<(String, String)> = options
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_ascii_lowercase(), v.into()))
            .collect();
        let mut described = format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or(""));
        let prefix = parsed.path().trim_matches('/').to_owned();
        if !prefix.is_empty() {
            described.push('/');
            described.push_str(&prefix);
        }
        let (inner, signer, prefix, local): (Arc<dyn ObjectStore>, Option<Arc<dyn Signer>>, _, _) =
            match parsed.scheme() {
                "file" => {
                    no_options(&options, "file://")?;
                    let dir = parsed.to_file_path().map_err(|()| {
                        invalid("a file:// URL needs an absolute path, as in file:///var/lib/molts/artifacts")
                    })?;
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| invalid(format!("cannot create {}: {e}", dir.display())))?;
                    let fs = LocalFileSystem::new_with_prefix(&dir)
                        .map_err(|e| invalid(scrub(&e.to_string())))?
                        // Deleting the last object of a directory removes the directory.
                        .with_automatic_cleanup(true);
                    described = format!("file://{}", dir.display());
                    // The directory is the root: no prefix inside it.
                    (
                        Arc::new(fs),
                        None,
                        String::new(),
                        Some(sidecar::Sidecars::default()),
                    )
                }
                "memory" => {
                    no_options(&options, "memory://")?;
                    (Arc::new(InMemory::new()), None, prefix, None)
                }
                "s3" | "s3a" => {
                    let mut builder = AmazonS3Builder::from_env().with_url(url);
                    for (key, value) in options {
                        let key: AmazonS3ConfigKey =
                            key.parse().map_err(|_| unknown(&key, "S3"))?;
                        builder = builder.with_config(key, value);
                    }
                    let s3 = Arc::new(
                        builder
                            .build()
                            .map_err(|e| invalid(scrub(&e.to_string())))?,
                    );
                    (s3.clone(), Some(s3 as Arc<dyn Signer>), prefix, None)
                }
                "gs" => {
                    let mut builder = GoogleCloudStorageBuilder::from_env().with_url(url);
                    for (key, value) in options {
                        let key: GoogleConfigKey = key.parse().map_err(|_| unknown(&key, "GCS"))?;
                        builder = builder.with_config(key, value);
                    }
                    let gcs = Arc::new(
                        builder
                            .build()
                            .map_err(|e| invalid(scrub(&e.to_string())))?,
                    );
                    (gcs.clone(), Some(gcs as Arc<dyn Signer>), prefix, None)
                }
                "az" | "azure" | "abfs" | "abfss" => {
                    let mut builder = MicrosoftAzureBuilder::from_env().with_url(url);
                    for (key, value) in options {
                        let key: AzureConfigKey =
                            key.parse().map_err(|_| unknown(&key, "Azure"))?;
                        builder = builder.with_config(key, value);
                    }
                    let azure = Arc::new(
                        builder
                            .build()
                            .map_err(|e| invalid(scrub(&e.to_string())))?,
                    );
                    (azure.clone(), Some(azure as Arc<dyn Signer>), prefix, None)
                }
                other => {
                    return Err(invalid(format!(
                        "unsupported scheme '{other}'; use file:///dir, s3://bucket/prefix, \
                         gs://bucket, az://container or memory://"
                    )));
                }
            };
        if !prefix.is_empty() {
            // The prefix is part of every key's path, so it obeys the same rules.
            crate::keys::check_key(&prefix)
                .map_err(|_| invalid(format!("the path '{prefix}' is not a valid key prefix")))?;
        }
        Ok(Self {
            inner,
            signer,
            prefix,
            local,
            described,
        })
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(
        "artifacts_url",
        format!("artifacts store: {}", message.into()),
    )
}

fn unknown(key: &str, backend: &str) -> Error {
    invalid(format!("'{key}' is not a {backend} option"))
}

fn no_options(options: &[(String, String)], scheme: &str) -> Result<()> {
    match options.first() {
        Some((key, _)) => Err(invalid(format!("{scheme} takes no options (got '{key}')"))),
        None => Ok(()),
    }
}

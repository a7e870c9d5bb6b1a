//! Object storage for scans and models: a local folder by default, S3 (or any S3-compatible
//! store, configured by the usual `AWS_*` environment variables) when scaled out.
//!
//! Keys: `orders/<order>/inputs/<file>.dcm` (de-identified scan files) and
//! `orders/<order>/jobs/<job>/attempt-<n>/<name>` (outputs of one attempt; a version refers to
//! the attempt that completed, so outputs of an attempt that died are never referenced).
//! Writes are atomic per object (the local store writes a temporary file and renames it).

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use tokio::io::AsyncWriteExt;

/// Why storage could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL is not `file://…`, a folder or `s3://…`.
    #[error("storage URL {0:?}: expected a folder, file:///path or s3://bucket[/prefix]")]
    BadUrl(String),
    /// The store failed.
    #[error("storage: {0}")]
    Store(#[from] object_store::Error),
    /// Local I/O failed.
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
}

/// A handle to the object store.
#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Where it is, for logs.
    pub location: String,
}

impl Storage {
    /// Opens `url`: a folder path or `file:///path` (created when missing) or `s3://bucket`.
    pub fn open(url: &str) -> Result<Self, StorageError> {
        let store: Arc<dyn ObjectStore> = if let Some(rest) = url.strip_prefix("s3://") {
            if rest.is_empty() {
                return Err(StorageError::BadUrl(url.into()));
            }
            Arc::new(AmazonS3Builder::from_env().with_url(url).build()?)
        } else {
            let path = url.strip_prefix("file://").unwrap_or(url);
            if path.is_empty() || url.contains("://") && !url.starts_with("file://") {
                return Err(StorageError::BadUrl(url.into()));
            }
            std::fs::create_dir_all(path)?;
            Arc::new(LocalFileSystem::new_with_prefix(path)?)
        };
        Ok(Self {
            store,
            location: url.to_string(),
        })
    }

    /// Stores `bytes` at `key`.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.store
            .put(&ObjectPath::from(key), PutPayload::from(Bytes::from(bytes)))
            .await?;
        Ok(())
    }

    /// Streams a local file to `key` (multipart for large files on S3).
    pub async fn put_file(&self, key: &str, file: &Path) -> Result<(), StorageError> {
        let mut source = tokio::fs::File::open(file).await?;
        let mut sink = object_store::buffered::BufWriter::new(self.store.clone(), ObjectPath::from(key));
        tokio::io::copy(&mut source, &mut sink).await?;
        sink.shutdown().await?;
        Ok(())
    }

    /// The whole object at `key`.
    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        Ok(self.store.get(&ObjectPath::from(key)).await?.bytes().await?)
    }

    /// The object at `key` as a stream of chunks, with its size.
    pub async fn stream(
        &self,
        key: &str,
    ) -> Result<(u64, futures::stream::BoxStream<'static, object_store::Result<Bytes>>), StorageError> {
        let result = self.store.get(&ObjectPath::from(key)).await?;
        let size = result.meta.size;
        Ok((size, result.into_stream()))
    }
}

//! The official k3s binary (and airgap images), downloaded once per version and architecture on the controller,
//! verified against the release's published sha256 sums and cached, so that nodes get it
//! from the controller rather than each fetching it from the internet.

mod cache_dir;
mod cached;
mod checksum;
mod error;
mod fetch;
mod source;
mod url;

pub use cache_dir::{cache_dir_for, default_cache_dir};
pub(crate) use cached::file_sha256;
pub use cached::{cached_asset, cached_binary, CachedAsset, ReleaseAsset};
pub use error::ReleaseError;
pub use source::{ReleaseSource, DEFAULT_RELEASE_URL, RELEASE_URL_ENV};

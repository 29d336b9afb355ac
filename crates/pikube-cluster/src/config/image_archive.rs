//! The image archives K3s imports from its images directory, known by their extension.

use std::path::Path;

/// One archive format K3s' containerd imports at start (pkg/agent/containerd: plain,
/// lz4, bzip2, gzip and zstd tarballs); any other file there is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageArchiveKind {
    extension: &'static str,
}

impl ImageArchiveKind {
    /// The endings K3s imports from its images folder.
    pub const EXTENSIONS: [&'static str; 8] = [
        ".tar", ".tar.lz4", ".tar.bz2", ".tbz", ".tar.gz", ".tgz", ".tar.zst", ".tzst",
    ];

    /// The kind of the archive at `path`, by its file name; `None` when K3s would skip it.
    pub fn of(path: &Path) -> Option<ImageArchiveKind> {
        let name = path.file_name()?.to_str()?;
        Self::EXTENSIONS
            .iter()
            .find(|extension| name.len() > extension.len() && name.ends_with(*extension))
            .map(|extension| ImageArchiveKind { extension })
    }

    /// Like `.tar.zst`.
    pub fn extension(self) -> &'static str {
        self.extension
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_by_the_whole_extension() {
        let kind =
            |name: &str| ImageArchiveKind::of(Path::new(name)).map(ImageArchiveKind::extension);
        assert_eq!(kind("k3s-airgap-images-arm64.tar.zst"), Some(".tar.zst"));
        assert_eq!(kind("/srv/images/k3s-airgap-images-arm.tar"), Some(".tar"));
        assert_eq!(kind("images.tgz"), Some(".tgz"));
        assert_eq!(kind("images.tar.gz"), Some(".tar.gz"));
        assert_eq!(kind("images.zip"), None);
        assert_eq!(kind("images.tar.xz"), None);
        assert_eq!(kind(".tar"), None);
        assert_eq!(kind("k3s-images.txt"), None);
    }
}

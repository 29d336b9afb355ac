//! Paths written in `cluster.toml` are relative to that file, not to wherever
//! `pikube` happens to run, so a cluster directory can be moved or shared.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    #[error("the path is empty")]
    Empty,
    #[error("~ needs $HOME, which is not set")]
    NoHome,
    #[error("~user paths are not supported; write the path out")]
    OtherUser,
}

/// `raw` resolved against `dir` (the cluster.toml directory), with `~/`
/// expanded against `home`.
pub(crate) fn resolve(raw: &str, dir: &Path, home: Option<&Path>) -> Result<PathBuf, PathProblem> {
    if raw.is_empty() {
        return Err(PathProblem::Empty);
    }
    if let Some(rest) = raw.strip_prefix('~') {
        let home = home.ok_or(PathProblem::NoHome)?;
        return match rest {
            "" => Ok(home.to_path_buf()),
            _ if rest.starts_with('/') => Ok(home.join(rest.trim_start_matches('/'))),
            _ => Err(PathProblem::OtherUser),
        };
    }
    Ok(dir.join(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves() {
        let dir = Path::new("/srv/lab");
        let home = Some(Path::new("/home/me"));
        assert_eq!(resolve("k", dir, home), Ok(PathBuf::from("/srv/lab/k")));
        assert_eq!(resolve("/etc/k", dir, home), Ok(PathBuf::from("/etc/k")));
        assert_eq!(
            resolve("~/.ssh/id", dir, home),
            Ok(PathBuf::from("/home/me/.ssh/id"))
        );
        assert_eq!(resolve("~", dir, home), Ok(PathBuf::from("/home/me")));
        assert_eq!(resolve("~bob/x", dir, home), Err(PathProblem::OtherUser));
        assert_eq!(resolve("~/x", dir, None), Err(PathProblem::NoHome));
        assert_eq!(resolve("", dir, home), Err(PathProblem::Empty));
        // A bare file name next to a bare cluster.toml stays relative.
        assert_eq!(resolve("k", Path::new(""), home), Ok(PathBuf::from("k")));
    }
}

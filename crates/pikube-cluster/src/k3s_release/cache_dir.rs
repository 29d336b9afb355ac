use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Where downloaded k3s binaries are kept: `$XDG_CACHE_HOME/pikube/k3s`, or
/// `~/.cache/pikube/k3s`. `None` when neither `$XDG_CACHE_HOME` nor `$HOME` is set.
pub fn default_cache_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME");
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    match (xdg, home) {
        (xdg, Some(home)) => Some(cache_dir_for(xdg.as_deref(), Path::new(&home))),
        (Some(xdg), None) if is_usable(&xdg) => Some(Path::new(&xdg).join("pikube").join("k3s")),
        _ => None,
    }
}

/// The rule behind [`default_cache_dir`], without reading the environment.
pub fn cache_dir_for(xdg_cache_home: Option<&OsStr>, home: &Path) -> PathBuf {
    let base = match xdg_cache_home {
        Some(xdg) if is_usable(xdg) => PathBuf::from(xdg),
        _ => home.join(".cache"),
    };
    base.join("pikube").join("k3s")
}

/// The XDG spec says a relative `$XDG_CACHE_HOME` is invalid and must be ignored.
fn is_usable(xdg: &OsStr) -> bool {
    Path::new(xdg).is_absolute()
}

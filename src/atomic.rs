//! Files that appear whole or not at all: written under a temporary name beside the target
//! (the `tempfile` crate, which also removes it when the write fails) and moved into place
//! only once complete, so no reader ever sees half a download or half a key pair.

use std::fs::Permissions;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tempfile::NamedTempFile;

/// A new temporary file in the directory of `dest`, named `.NAME.XXXXXX.part` so that it is
/// hidden and says what it will become, created with `mode` (less the umask).
pub fn beside(dest: &Path, mode: u32) -> io::Result<NamedTempFile> {
    let name = dest
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".part")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)
}

/// Moves a complete temporary file to `dest`: over an existing file with `replace`, else only
/// if nothing is there (atomically: an existing `dest` makes it fail, never lose a file).
pub fn put_in_place(temp: NamedTempFile, dest: &Path, replace: bool) -> io::Result<()> {
    let placed = if replace {
        temp.persist(dest)
    } else {
        temp.persist_noclobber(dest)
    };
    placed.map(drop).map_err(|e| e.error)
}

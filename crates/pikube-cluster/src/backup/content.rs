//! What a backup file holds, judged by its bytes before a restore stops anything: K3s would
//! find out only at `--cluster-reset`, with K3s already stopped on every node.
//!
//! An etcd snapshot (`k3s etcd-snapshot save`) is etcd's bbolt database followed by the
//! SHA-256 of it, which etcd appends and `etcdutl snapshot restore` checks; pikube checks
//! the database's meta pages and that checksum. A SQLite backup (see `sqlite`) is a gzip'd
//! tar of the server's `db/` and `token`; pikube unpacks it in memory and looks for both.

use std::io::Read;

use sha2::{Digest, Sha256};

use super::Datastore;

/// bbolt's magic number, in each meta page.
const BBOLT_MAGIC: u32 = 0xED0C_DAED;
/// The only bbolt file format etcd writes.
const BBOLT_VERSION: u32 = 2;
/// A page header's flag for a meta page.
const META_PAGE_FLAG: u16 = 0x04;
/// Where a meta page's checksum sits (after the page header of 16 bytes and 56 of meta).
const META_CHECKSUM_AT: usize = 72;
/// The SHA-256 etcd appends to a snapshot.
const TRAILER: usize = 32;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Which datastore `bytes` are a backup of, or why they are none pikube can restore.
pub fn identify(bytes: &[u8]) -> Result<Datastore, String> {
    if bytes.starts_with(&GZIP_MAGIC) {
        return sqlite_archive(bytes).map(|()| Datastore::Sqlite);
    }
    if bytes.len() >= 20 && le_u32(bytes, 16) == BBOLT_MAGIC {
        return etcd_snapshot(bytes).map(|()| Datastore::Etcd);
    }
    if bytes.starts_with(SQLITE_MAGIC) {
        return Err(
            "a SQLite database alone: K3s cannot read it without its token; restore \
                    the archive `pikube backup` made of it and the token"
                .to_owned(),
        );
    }
    if bytes.starts_with(&ZIP_MAGIC) {
        return Err("a zip archive: if it is a snapshot K3s compressed \
                    (etcd-snapshot-compress), unzip it and restore the file inside"
            .to_owned());
    }
    Err(format!(
        "neither an etcd snapshot (a bbolt database) nor a SQLite backup of `pikube backup` \
         (a gzip'd tar); it starts with {}",
        first_bytes(bytes)
    ))
}

/// One meta page of a bbolt database, read at `at`.
struct Meta {
    page_size: u32,
    /// The high-water mark: pages in use, so the database's length is `pages * page_size`.
    pages: u64,
    txid: u64,
}

fn meta_at(bytes: &[u8], at: usize) -> Option<Meta> {
    let page = bytes.get(at..at + META_CHECKSUM_AT + 8)?;
    let flags = u16::from_le_bytes([page[8], page[9]]);
    let valid = flags & META_PAGE_FLAG != 0
        && le_u32(page, 16) == BBOLT_MAGIC
        && le_u32(page, 20) == BBOLT_VERSION
        && le_u64(page, META_CHECKSUM_AT) == fnv1a64(&page[16..META_CHECKSUM_AT]);
    valid.then(|| Meta {
        page_size: le_u32(page, 24),
        pages: le_u64(page, 56),
        txid: le_u64(page, 64),
    })
}

fn etcd_snapshot(bytes: &[u8]) -> Result<(), String> {
    let damaged = |why: &str| format!("an etcd snapshot (a bbolt database), but damaged: {why}");
    // The second meta page follows the first, at the page size the first says.
    let page_size = le_u32(bytes, 24) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(damaged(&format!(
            "its page size {page_size} is not one bbolt uses"
        )));
    }
    let newest = [meta_at(bytes, 0), meta_at(bytes, page_size)]
        .into_iter()
        .flatten()
        .max_by_key(|m| m.txid)
        .ok_or_else(|| damaged("neither of its meta pages is intact"))?;
    // etcdutl's own test for whether the checksum is there.
    if bytes.len() % 512 != TRAILER {
        return Err(damaged(
            "it does not end with the SHA-256 etcd writes after a snapshot: cut short, or \
             a copy of etcd's database file rather than a snapshot of `k3s etcd-snapshot save`",
        ));
    }
    let (db, trailer) = bytes.split_at(bytes.len() - TRAILER);
    let needed = newest.pages.saturating_mul(u64::from(newest.page_size));
    if (db.len() as u64) < needed {
        return Err(damaged(&format!(
            "{} bytes of a database of {needed}",
            db.len()
        )));
    }
    if Sha256::digest(db).as_slice() != trailer {
        return Err(damaged(
            "the SHA-256 etcd wrote at its end does not match what precedes it",
        ));
    }
    Ok(())
}

fn sqlite_archive(bytes: &[u8]) -> Result<(), String> {
    let not_ours =
        |why: String| format!("gzip'd, but not a SQLite backup of `pikube backup`: {why}");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let (mut database, mut token) = (false, false);
    let entries = archive
        .entries()
        .map_err(|e| not_ours(format!("cannot be unpacked: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| not_ours(format!("cannot be unpacked: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| not_ours(format!("cannot be unpacked: {e}")))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        match path.as_str() {
            "db/state.db" => {
                let mut head = [0; 16];
                database = entry.read_exact(&mut head).is_ok() && &head == SQLITE_MAGIC;
                if !database {
                    return Err(not_ours(
                        "its db/state.db is not a SQLite database".to_owned(),
                    ));
                }
            }
            "token" => token = true,
            _ => {}
        }
    }
    // To the end of the gzip stream, whose CRC tells a file cut short or altered.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink())
        .map_err(|e| not_ours(format!("cannot be unpacked: {e}")))?;
    match (database, token) {
        (true, true) => Ok(()),
        (false, _) => Err(not_ours("it holds no db/state.db".to_owned())),
        (true, false) => Err(not_ours(
            "it holds no token, without which K3s cannot read the database".to_owned(),
        )),
    }
}

fn first_bytes(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(8)];
    let text: String = head
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{} ({text:?})", hex::encode(head))
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    bytes.get(at..at + 8).map_or(0, |b| {
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    })
}

/// FNV-1a, 64 bits: what bbolt checksums its meta pages with.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A bbolt file of four pages (two meta, a freelist, an empty leaf) as bbolt lays one out,
/// with etcd's SHA-256 after it: the smallest etcd snapshot, for tests. The real one, from
/// a real etcd, is in the integration tests.
#[cfg(test)]
pub(crate) fn minimal_etcd_snapshot() -> Vec<u8> {
    const PAGE: usize = 4096;
    let mut db = vec![0u8; 4 * PAGE];
    for (i, txid) in [(0usize, 0u64), (1, 1)] {
        let page = &mut db[i * PAGE..];
        page[0..8].copy_from_slice(&(i as u64).to_le_bytes());
        page[8..10].copy_from_slice(&META_PAGE_FLAG.to_le_bytes());
        page[16..20].copy_from_slice(&BBOLT_MAGIC.to_le_bytes());
        page[20..24].copy_from_slice(&BBOLT_VERSION.to_le_bytes());
        page[24..28].copy_from_slice(&(PAGE as u32).to_le_bytes());
        page[32..40].copy_from_slice(&3u64.to_le_bytes()); // root bucket: page 3
        page[48..56].copy_from_slice(&2u64.to_le_bytes()); // freelist: page 2
        page[56..64].copy_from_slice(&4u64.to_le_bytes()); // high-water mark
        page[64..72].copy_from_slice(&txid.to_le_bytes());
        let checksum = fnv1a64(&page[16..META_CHECKSUM_AT]);
        page[72..80].copy_from_slice(&checksum.to_le_bytes());
    }
    db[2 * PAGE..][0..8].copy_from_slice(&2u64.to_le_bytes());
    db[2 * PAGE..][8..10].copy_from_slice(&0x10u16.to_le_bytes()); // freelist page
    db[3 * PAGE..][0..8].copy_from_slice(&3u64.to_le_bytes());
    db[3 * PAGE..][8..10].copy_from_slice(&0x02u16.to_le_bytes()); // leaf page
    let sum = Sha256::digest(&db);
    db.extend_from_slice(&sum);
    db
}

/// A gzip'd tar holding `files` (path, content), as `tar -czf` makes one, for tests.
#[cfg(test)]
pub(crate) fn gzipped_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gzip);
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        tar.append_data(&mut header, path, *content).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &[u8] = b"SQLite format 3\0and the rest of the database";

    #[test]
    fn an_etcd_snapshot_is_told_by_its_meta_pages_and_etcds_checksum() {
        let snapshot = minimal_etcd_snapshot();
        assert_eq!(identify(&snapshot), Ok(Datastore::Etcd));

        let cut = identify(&snapshot[..snapshot.len() - 100]).unwrap_err();
        assert!(cut.contains("cut short"), "{cut}");
        let mut altered = snapshot.clone();
        altered[3 * 4096 + 100] ^= 1;
        let err = identify(&altered).unwrap_err();
        assert!(err.contains("does not match what precedes it"), "{err}");
        let mut both_metas = snapshot.clone();
        both_metas[60] ^= 1;
        both_metas[4096 + 60] ^= 1;
        let err = identify(&both_metas).unwrap_err();
        assert!(err.contains("neither of its meta pages is intact"), "{err}");
        // One meta page damaged: bbolt reads the other, and so does this check.
        let mut one_meta = snapshot.clone();
        one_meta[4096 + 60] ^= 1;
        let fixed_sum = Sha256::digest(&one_meta[..one_meta.len() - TRAILER]);
        let at = one_meta.len() - TRAILER;
        one_meta[at..].copy_from_slice(&fixed_sum);
        assert_eq!(identify(&one_meta), Ok(Datastore::Etcd));
    }

    #[test]
    fn a_sqlite_backup_must_hold_the_database_and_the_token() {
        let whole = gzipped_tar(&[("db/state.db", DB), ("token", b"K10abc::server:x")]);
        assert_eq!(identify(&whole), Ok(Datastore::Sqlite));

        let err = identify(&gzipped_tar(&[("db/state.db", DB)])).unwrap_err();
        assert!(err.ends_with("it holds no token, without which K3s cannot read the database"));
        let err = identify(&gzipped_tar(&[("token", b"t")])).unwrap_err();
        assert!(err.ends_with("it holds no db/state.db"), "{err}");
        let err = identify(&gzipped_tar(&[
            ("db/state.db", b"not sqlite"),
            ("token", b"t"),
        ]))
        .unwrap_err();
        assert!(
            err.ends_with("its db/state.db is not a SQLite database"),
            "{err}"
        );
        let err = identify(&whole[..whole.len() - 10]).unwrap_err();
        assert!(err.contains("cannot be unpacked"), "{err}");
    }

    #[test]
    fn anything_else_is_refused_saying_what_it_starts_with() {
        let err = identify(b"<!DOCTYPE html><html>").unwrap_err();
        assert!(
            err.starts_with("neither an etcd snapshot (a bbolt database) nor a SQLite backup")
                && err.ends_with("it starts with 3c21444f43545950 (\"<!DOCTYP\")"),
            "{err}"
        );
        let err = identify(b"SQLite format 3\0pages").unwrap_err();
        assert!(err.starts_with("a SQLite database alone"), "{err}");
        let err = identify(b"PK\x03\x04zipped").unwrap_err();
        assert!(err.contains("unzip it"), "{err}");
    }
}

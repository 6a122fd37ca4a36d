//! Spill files: the host's second, slower memory space. A tile evicted under a budget is
//! a replica in a slot of one of a few files in the spill directory.
//!
//! - Files are created in the directory (`MOSAIC_SPILL_DIR`, or [`set_dir`]; default the
//!   temp dir), unlinked at once (the space returns to the file system when the process
//!   ends, whatever way it ends), and grown in [`CHUNK`] steps with `posix_fallocate`, so a
//!   full disk is an error when a chunk is added, not a `SIGBUS` or a torn write later.
//! - A slot is a size rounded up to 4 KiB at an offset of one file; freed slots are kept by
//!   size and reused (tiles come in few sizes).
//! - Reads and writes are positioned (`pread`/`pwrite`): no shared file cursor, so any
//!   number of threads move tiles at once.
//!
//! A slot is named by a handle (file index and offset, never 0), stored where a replica
//! keeps its base pointer: it is never dereferenced.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::sync::Mutex;

use crate::error::{Error, Result};

// `std`'s mutex even under loom: a process-wide static no model explores.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Files grow by this much at a time.
pub(crate) const CHUNK: u64 = 256 << 20;
/// A file is not grown past this; the next one is started.
const FILE_MAX: u64 = 16 << 30;
/// Slots are multiples of this.
const SLOT_ALIGN: u64 = 4096;
/// Bits of a handle that hold the offset.
const OFFSET_BITS: u32 = 48;

struct SpillFile {
    file: Arc<File>,
    path: PathBuf,
    /// Bytes allocated on disk.
    len: u64,
    /// Bytes handed out as slots (from the start).
    used: u64,
}

struct Store {
    dir: PathBuf,
    files: Vec<SpillFile>,
    free: BTreeMap<u64, Vec<u64>>,
}

fn store() -> &'static Mutex<Store> {
    static STORE: std::sync::OnceLock<Mutex<Store>> = std::sync::OnceLock::new();
    STORE.get_or_init(|| {
        let dir = std::env::var_os("MOSAIC_SPILL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        Mutex::new(Store {
            dir,
            files: Vec::new(),
            free: BTreeMap::new(),
        })
    })
}

/// The spill directory.
pub(crate) fn dir() -> PathBuf {
    lock(store()).dir.clone()
}

/// Spills into `dir` from now on (files already started stay where they are). Checks that
/// a file can be created there.
pub(crate) fn set_dir(dir: &Path) -> Result<()> {
    probe(dir)?;
    lock(store()).dir = dir.to_path_buf();
    Ok(())
}

fn probe(dir: &Path) -> Result<()> {
    let (file, path) = create(dir)?;
    drop(file);
    let _ = std::fs::remove_file(&path);
    Ok(())
}

fn create(dir: &Path) -> Result<(File, PathBuf)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    if !dir.is_dir() {
        return Err(Error::file(dir, "spill directory does not exist"));
    }
    let path = dir.join(format!(
        "mosaic-spill-{}-{}.bin",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::file(&path, format!("cannot create a spill file: {e}")))?;
    Ok((file, path))
}

/// Grows `f` to `len` bytes of allocated disk.
fn grow(f: &mut SpillFile, len: u64) -> Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain system call on a file descriptor this `File` owns and keeps open for
    // the duration of the call; it touches no memory of this process.
    let rc = unsafe {
        libc::posix_fallocate(
            f.file.as_raw_fd(),
            f.len as libc::off_t,
            (len - f.len) as libc::off_t,
        )
    };
    match rc {
        0 => {
            f.len = len;
            Ok(())
        }
        // File systems without fallocate: extend the size and let writes allocate.
        libc::EOPNOTSUPP | libc::EINVAL => {
            f.file
                .set_len(len)
                .map_err(|e| Error::file(&f.path, format!("cannot grow the spill file: {e}")))?;
            f.len = len;
            Ok(())
        }
        e => Err(Error::file(
            &f.path,
            format!(
                "cannot grow the spill file to {len} bytes: {}",
                std::io::Error::from_raw_os_error(e)
            ),
        )),
    }
}

fn slot_size(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(SLOT_ALIGN) * SLOT_ALIGN
}

fn handle(file: usize, offset: u64) -> u64 {
    ((file as u64) << OFFSET_BITS | offset) + 1
}

fn unhandle(h: u64) -> (usize, u64) {
    let h = h - 1;
    ((h >> OFFSET_BITS) as usize, h & ((1 << OFFSET_BITS) - 1))
}

/// A slot of `bytes` bytes.
pub(crate) fn allocate(bytes: usize) -> Result<u64> {
    let size = slot_size(bytes).max(SLOT_ALIGN);
    let mut s = lock(store());
    if let Some(list) = s.free.get_mut(&size) {
        if let Some(h) = list.pop() {
            if list.is_empty() {
                s.free.remove(&size);
            }
            return Ok(h);
        }
    }
    new_slot(&mut s, size)
}

fn new_slot(s: &mut Store, size: u64) -> Result<u64> {
    let fits = |f: &SpillFile| f.used + size <= FILE_MAX.max(size);
    if !s.files.last().is_some_and(fits) {
        let (file, path) = create(&s.dir)?;
        // Unlinked now: the file lives as long as the runtime holds it open.
        let _ = std::fs::remove_file(&path);
        s.files.push(SpillFile {
            file: Arc::new(file),
            path,
            len: 0,
            used: 0,
        });
    }
    let index = s.files.len() - 1;
    let f = s.files.last_mut().expect("pushed above");
    if f.used + size > f.len {
        grow(f, (f.used + size).div_ceil(CHUNK) * CHUNK)?;
    }
    let offset = f.used;
    f.used += size;
    Ok(handle(index, offset))
}

/// Returns the slot `h` of `bytes` bytes.
pub(crate) fn free(h: u64, bytes: usize) {
    let size = slot_size(bytes).max(SLOT_ALIGN);
    let mut s = lock(store());
    s.free.entry(size).or_default().push(h);
}

fn file_of(h: u64) -> (Arc<File>, PathBuf, u64) {
    let (index, offset) = unhandle(h);
    let s = lock(store());
    let f = &s.files[index];
    (f.file.clone(), f.path.clone(), offset)
}

/// Writes `data` to slot `h`.
pub(crate) fn write(h: u64, data: &[u8]) -> Result<()> {
    let (file, path, offset) = file_of(h);
    file.write_all_at(data, offset)
        .map_err(|e| Error::file(&path, format!("cannot write a spilled tile: {e}")))
}

/// Reads slot `h` into `out`.
pub(crate) fn read(h: u64, out: &mut [u8]) -> Result<()> {
    let (file, path, offset) = file_of(h);
    file.read_exact_at(out, offset)
        .map_err(|e| Error::file(&path, format!("cannot read a spilled tile back: {e}")))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_are_never_zero() {
        for (f, o) in [(0, 0), (3, 4096), (65535, (1 << 40) + 8192)] {
            let h = handle(f, o);
            assert_ne!(h, 0);
            assert_eq!(unhandle(h), (f, o));
        }
    }

    #[test]
    fn slots_hold_what_was_written_and_are_reused() {
        let a = allocate(10_000).unwrap();
        let b = allocate(10_000).unwrap();
        assert_ne!(a, b);
        let data: Vec<u8> = (0..10_000).map(|i| (i % 251) as u8).collect();
        write(a, &data).unwrap();
        write(b, &[7u8; 10_000]).unwrap();
        let mut back = vec![0u8; 10_000];
        read(a, &mut back).unwrap();
        assert_eq!(back, data);
        free(a, 10_000);
        assert_eq!(
            allocate(10_000).unwrap(),
            a,
            "a freed slot of that size is reused"
        );
        free(a, 10_000);
        free(b, 10_000);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let err = set_dir(Path::new("/nonexistent/mosaic-spill")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/mosaic-spill"), "{err}");
    }
}

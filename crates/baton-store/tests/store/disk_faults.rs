//! The SQLite writer under a disk fault (issue 13, item 7): the database file and its WAL made
//! immutable (`chattr +i`: the kernel refuses every write with `EPERM`), then writable again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use baton_store::{RunStore, SqliteOptions, SqliteStore, StoreError, StoreLifecycle};

use crate::fixtures::{checkpoint, new_run};

/// Longest a write may take to fail while the disk cannot be written (the writer retries for
/// about 0.75 s first); it used to fail for good, or hang.
const FAIL_FAST: Duration = Duration::from_secs(5);

/// The database files of `dir` made immutable until dropped (even when the test fails, so the
/// temporary directory can be removed).
struct Immutable {
    files: Vec<PathBuf>,
}

impl Immutable {
    fn set(dir: &Path) -> Immutable {
        let files: Vec<PathBuf> = ["baton.db", "baton.db-wal"].iter().map(|name| dir.join(name)).collect();
        for file in &files {
            chattr("+i", file);
        }
        Immutable { files }
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for file in &self.files {
            chattr("-i", file);
        }
    }
}

#[track_caller]
fn chattr(flag: &str, file: &Path) {
    let status = std::process::Command::new("chattr").arg(flag).arg(file).status();
    assert!(
        matches!(status, Ok(status) if status.success()),
        "chattr {flag} {} failed ({status:?}): this test needs root and a filesystem with file attributes \
         (ext4, xfs, btrfs) under CARGO_TARGET_TMPDIR",
        file.display()
    );
}

/// Runs `write` and asserts it fails soon with the transient [`StoreError::WriteUnavailable`].
async fn assert_unavailable<T: std::fmt::Debug>(what: &str, write: impl Future<Output = Result<T, StoreError>>) {
    let started = Instant::now();
    let res = tokio::time::timeout(FAIL_FAST * 2, write).await.unwrap_or_else(|_| panic!("{what} hangs"));
    assert!(matches!(res, Err(StoreError::WriteUnavailable)), "{what}: {res:?}");
    assert!(res.unwrap_err().is_transient());
    assert!(started.elapsed() < FAIL_FAST, "{what} took {:?} to fail", started.elapsed());
}

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_disk_fault_fails_writes_then_the_writer_recovers() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let store = SqliteStore::open(SqliteOptions::new(dir.path().join("baton.db"))).await.expect("open");
    store.create_run(new_run("r1", 1)).await.unwrap();
    assert_eq!(store.commit(checkpoint("r1", 1)).await.unwrap(), 2);
    store.ping().await.unwrap();

    let fault = Immutable::set(dir.path());
    assert_unavailable("a commit", store.commit(checkpoint("r1", 2))).await;
    assert_unavailable("a new run", store.create_run(new_run("r2", 1))).await;
    assert_unavailable("the readiness probe", store.ping()).await;
    // Reads go on; the failed commit left nothing behind.
    assert_eq!(store.load_run("r1").await.unwrap().unwrap().state_version, 2);
    assert!(store.load_run("r2").await.unwrap().is_none());

    drop(fault);
    store.ping().await.expect("the writer recovers once the disk is writable");
    assert_eq!(store.commit(checkpoint("r1", 2)).await.unwrap(), 3);
    store.create_run(new_run("r2", 1)).await.unwrap();
    store.close().await;

    // What was acknowledged is on disk.
    let store = SqliteStore::open(SqliteOptions::new(dir.path().join("baton.db"))).await.expect("reopen");
    assert_eq!(store.load_run("r1").await.unwrap().unwrap().state_version, 3);
    assert!(store.load_run("r2").await.unwrap().is_some());
    store.close().await;
}

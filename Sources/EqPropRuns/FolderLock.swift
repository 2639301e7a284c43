import EqProp
import Foundation

/// One writer per output folder: an advisory lock (`flock`) on `DIR/.xbar.lock`, held while a
/// training run, a sweep or a merge writes into `DIR`. A second writer fails at once with one line
/// naming the holder's process id; a reader (`xbar sweep report`, `xbar table`) takes no lock.
///
/// The lock belongs to the open file, so it is released when the process ends, even by `kill -9`:
/// a stale lock file never blocks anyone. Temporary files a killed writer left behind
/// (`NAME.tmp-PID`) are removed when the lock is taken. On NFS, Linux maps `flock` to POSIX
/// byte-range locks, which the server arbitrates.
public final class FolderLock {
    /// Name of the lock file inside the folder.
    public static let fileName = ".xbar.lock"
    /// The locked folder.
    public let folder: String
    private var fd: Int32

    /// Locks `folder` (created if missing) for `purpose` ("training", "sweep", "merge").
    /// Throws `InputError` naming the holder if another process (or another lock in this one) holds it.
    public init(_ folder: String, purpose: String) throws {
        self.folder = folder
        try POSIXIO.makeFolder(folder)
        let path = (folder as NSString).appendingPathComponent(Self.fileName)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError("create the lock file", path) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder =
                (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            if code == EWOULDBLOCK {
                throw InputError(
                    options:
                        "'\(folder)' is being written by another xbar "
                        + "(\(holder.isEmpty ? "unknown process" : holder)); wait for it to finish, or choose "
                        + "another {out}"
                )
            }
            throw StorageError("lock", path, code: code)
        }
        let me = Data("pid \(getpid()), \(purpose)\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = try? POSIXIO.writeAll(fd, me, path: path) }
        removeStaleTemporaries()
    }

    /// Releases the lock (also done when the object is freed or the process ends).
    public func unlock() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { unlock() }

    /// Temporary files of atomic writes that a killed writer left: no one else can be writing them
    /// while this lock is held.
    private func removeStaleTemporaries() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for n in names {
            guard let r = n.range(of: AtomicFile.temporaryMarker, options: .backwards),
                !n[r.upperBound...].isEmpty, n[r.upperBound...].allSatisfy(\.isNumber)
            else { continue }
            unlink((folder as NSString).appendingPathComponent(n))
        }
    }
}

import EqProp
import Foundation

/// A failed file-system operation: what was done, on which path, and the operating system's reason.
/// A full disk says so, and that what was written before is intact.
public struct StorageError: Error, CustomStringConvertible, LocalizedError {
    /// What was being done ("write", "create the folder", "rename", "sync", "lock").
    public var operation: String
    /// The file or folder.
    public var path: String
    /// The `errno` of the failure.
    public var code: Int32

    /// Captures the current `errno`.
    init(_ operation: String, _ path: String, code: Int32 = errno) {
        self.operation = operation; self.path = path; self.code = code
    }

    /// One line: operation, path, reason, and for a full disk or quota what to do.
    public var description: String {
        let reason = String(cString: strerror(code))
        let hint =
            code == ENOSPC || code == EDQUOT
            ? "; files written before are intact: free space, then resume" : ""
        return "cannot \(operation) '\(path)': \(reason)\(hint)"
    }
    public var errorDescription: String? { description }
}

/// POSIX file calls with every result checked.
enum POSIXIO {
    /// Writes all of `data` to `fd`, retrying interrupted and short writes.
    static func writeAll(_ fd: Int32, _ data: Data, path: String) throws {
        try data.withUnsafeBytes { (buf: UnsafeRawBufferPointer) in
            var done = 0
            while done < buf.count {
                let n = write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StorageError("write", path)
                }
                done += n
            }
        }
    }

    /// Flushes `fd` to the device.
    static func sync(_ fd: Int32, path: String) throws {
        if fsync(fd) != 0 && errno != EINVAL { throw StorageError("sync", path) }
    }

    /// Flushes a folder's entries (a rename into it is durable after this). File systems that
    /// cannot sync a folder (EINVAL) are accepted.
    static func syncFolder(_ dir: String) throws {
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError("open the folder", dir) }
        defer { close(fd) }
        try sync(fd, path: dir)
    }

    /// Creates `dir` and its missing parents (`mkdir -p`). A file in the way is the user's to move
    /// (`InputError`); any other failure is a `StorageError` with the operating system's reason.
    static func makeFolder(_ dir: String) throws {
        guard !dir.isEmpty else { return }
        var prefix = dir.hasPrefix("/") ? "/" : ""
        for part in dir.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + part
            if mkdir(prefix, 0o755) == 0 { continue }
            let code = errno
            var st = stat()
            if stat(prefix, &st) == 0 {
                if st.st_mode & S_IFMT == S_IFDIR { continue }
                throw InputError(
                    prefix == dir || prefix == dir + "/"
                        ? "'\(dir)': a file is in the way (a folder is needed)"
                        : "'\(dir)': '\(prefix)' is a file, not a folder")
            }
            throw StorageError("create the folder", prefix, code: code)
        }
    }
}

/// File output that never leaves a torn file behind: write to a temporary file in the same folder,
/// sync it, rename it over the target (atomic on POSIX file systems), then sync the folder so the
/// rename survives a power loss. On any failure the temporary file is removed and the previous
/// file, if any, is untouched.
public enum AtomicFile {
    /// Suffix of temporary files (`NAME.tmp-PID`); `FolderLock` removes stale ones.
    static let temporaryMarker = ".tmp-"

    /// Writes `data` to `path` atomically, creating missing folders.
    public static func write(_ data: Data, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try POSIXIO.makeFolder(dir)
        let tmp = path + temporaryMarker + "\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError("write", path) }
        do {
            try POSIXIO.writeAll(fd, data, path: path)
            try POSIXIO.sync(fd, path: path)
        } catch {
            close(fd); unlink(tmp)
            throw error
        }
        guard close(fd) == 0 else { let e = StorageError("write", path); unlink(tmp); throw e }
        guard rename(tmp, path) == 0 else { let e = StorageError("rename a file to", path); unlink(tmp); throw e }
        try POSIXIO.syncFolder(dir)
    }

    /// Writes `text` as UTF-8 to `path` atomically.
    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }
}

/// Append-only JSON Lines log: each record is one line, written with `O_APPEND` in one call and
/// synced, so a crash loses at most the line being written. A failed append (a full disk) is cut
/// back off, so the file never holds a torn line and every earlier line is intact.
public final class JSONLWriter {
    private let fd: Int32
    /// Path of the log file.
    public let path: String

    /// Opens the log at `path` for appending, creating it and its folders if missing and cutting
    /// off a torn last line.
    public init(path: String) throws {
        self.path = path
        try POSIXIO.makeFolder((path as NSString).deletingLastPathComponent)
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError("open for appending", path) }
        // A crash mid-write can leave a torn last line: cut it off so the next line starts clean.
        if let data = FileManager.default.contents(atPath: path), let last = data.last, last != 0x0a {
            let keep = (data.lastIndex(of: 0x0a).map { $0 + 1 }) ?? 0
            guard ftruncate(fd, off_t(keep)) == 0 else { let e = StorageError("truncate", path); close(fd); throw e }
        }
    }

    /// Appends `record` as one JSON line (sorted keys) and syncs it to disk.
    public func append<E: Encodable>(_ record: E) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var data = try enc.encode(record)
        data.append(0x0a)
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StorageError("append to", path) }
        do {
            try POSIXIO.writeAll(fd, data, path: path)
            try POSIXIO.sync(fd, path: path)
        } catch {
            _ = ftruncate(fd, st.st_size)  // no torn line left behind
            throw error
        }
    }

    deinit { close(fd) }

    /// Reads back the records of a log, skipping a torn last line if any.
    public static func readLines(_ path: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }
}

/// JSON with sorted keys and pretty printing, written atomically.
public func writeJSON<E: Encodable>(_ value: E, to path: String) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .prettyPrinted]
    try AtomicFile.write(enc.encode(value), to: path)
}

import EqProp
import Foundation

/// File output that never leaves a torn file behind: write to a temporary file in the same folder,
/// flush, then rename over the target (rename is atomic on POSIX file systems).
public enum AtomicFile {
    /// Writes `data` to `path` atomically, creating missing folders; throws `InputError` if the
    /// temporary file cannot be created or renamed.
    public static func write(_ data: Data, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else {
            throw InputError("cannot write '\(path)' (is the folder writable?)")
        }
        if let h = FileHandle(forWritingAtPath: tmp) { try? h.synchronize(); try? h.close() }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw InputError("cannot move '\(tmp)' to '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    /// Writes `text` as UTF-8 to `path` atomically.
    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }
}

/// Append-only JSON Lines log: each record is one line, written with a single `write` call and
/// flushed, so a crash can lose at most the line being written, never an earlier one.
public final class JSONLWriter {
    private let handle: FileHandle
    /// Path of the log file.
    public let path: String

    /// Opens the log at `path` for appending, creating it and its folders if missing and cutting
    /// off a torn last line.
    public init(path: String) throws {
        self.path = path
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forUpdatingAtPath: path) else { throw InputError("cannot open '\(path)' for writing") }
        handle = h
        // A crash mid-write can leave a torn last line: cut it off so the next line starts clean.
        let data = handle.readDataToEndOfFile()
        if let last = data.last, last != 0x0a {
            let keep = (data.lastIndex(of: 0x0a).map { $0 + 1 }) ?? 0
            try handle.truncate(atOffset: UInt64(keep))
        }
        handle.seekToEndOfFile()
    }

    /// Appends `record` as one JSON line (sorted keys) and flushes it to disk.
    public func append<E: Encodable>(_ record: E) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var data = try enc.encode(record)
        data.append(0x0a)
        handle.write(data)
        try? handle.synchronize()
    }

    deinit { try? handle.close() }

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

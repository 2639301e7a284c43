import Foundation

/// Reading a file the user named, bounded: it must be a regular file (a FIFO or a device would
/// block or never end) no larger than a limit that fits its kind, and errors name it in one line.
public enum InputFile {
    /// Throws unless `path` is an existing regular file of at most `maxBytes` bytes; `what` names
    /// the file in the message ("checkpoint", "data file", "preset file", …).
    public static func check(_ path: String, what: String, maxBytes: Int) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let reason = errno == ENOENT ? "does not exist" : "cannot be read (\(String(cString: strerror(errno))))"
            throw InputError("\(what) '\(path)' \(reason)")
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw InputError("\(what) '\(path)' is a directory, not a file")
        default: throw InputError("\(what) '\(path)' is not a regular file (a pipe or a device cannot be read as one)")
        }
        guard Int(st.st_size) <= maxBytes else {
            throw InputError("\(what) '\(path)' is \(st.st_size) bytes, more than the \(maxBytes) such a file can be")
        }
    }

    /// The bytes of `path` after `check`.
    public static func read(_ path: String, what: String, maxBytes: Int) throws -> Data {
        try check(path, what: what, maxBytes: maxBytes)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InputError("\(what) '\(path)' cannot be read")
        }
        return data
    }
}

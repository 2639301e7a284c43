import Foundation
import Yams

/// Reading of preset files (`Models/networks`, `Models/devices`): YAML mapping → checked fields →
/// Codable value, with one-line errors that name the file and the field.
public enum PresetYAML {
    /// Parses YAML text a user gave (a file, or a value on the command line) into Foundation values.
    /// Refuses, with a message, what Yams would trap on: a mapping key that is not a scalar
    /// (`? [a, b]: 1` or `? {a: 1}: 2`), found by fuzzing.
    public static func load(_ yaml: String, source: String) throws -> Any? {
        try checkShape(yaml, source: source)
        func invalid(_ error: Error) -> InputError {
            InputError("\(source): not valid YAML (\(String(describing: error).split(separator: "\n").first ?? ""))")
        }
        if let alias = firstAnchorOrAlias(yaml) {
            throw InputError(
                "\(source): anchors and aliases ('\(alias)') are not supported in preset files (each alias can "
                    + "multiply the document)"
            )
        }
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch { throw invalid(error) }
        func check(_ n: Node) throws {
            if let m = n.mapping {
                for (k, v) in m {
                    guard k.scalar != nil else {
                        throw InputError("\(source): a key must be a plain name, not a list or a mapping")
                    }
                    try check(v)
                }
            } else if let s = n.sequence {
                for v in s { try check(v) }
            }
        }
        if let root { try check(root) }
        do { return try Yams.load(yaml: yaml) } catch { throw invalid(error) }
    }

    /// The first YAML anchor (`&name`) or alias (`*name`) outside quotes and comments, if any. The
    /// parser expands aliases while composing, so nine nested aliases of nine items ask for 9⁹ nodes
    /// (a "billion laughs"): presets have no use for them, and they are refused before parsing.
    static func firstAnchorOrAlias(_ text: String) -> String? {
        let b = Array(text.utf8)
        var i = 0, quote: UInt8? = nil
        func isNameByte(_ c: UInt8) -> Bool { c > 32 && !"[]{},".utf8.contains(c) }
        while i < b.count {
            let c = b[i]
            if let q = quote {
                if c == UInt8(ascii: "\\") && q == UInt8(ascii: "\"") { i += 2; continue }
                if c == q { quote = nil }
            } else if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                // A quote opens a string only where a value starts (after a space, a flow indicator or the line start).
                let prev: UInt8 = i > 0 ? b[i - 1] : 10
                if " \t\n[{,:-".utf8.contains(prev) { quote = c }
            } else if c == UInt8(ascii: "#") && (i == 0 || b[i - 1] == 32 || b[i - 1] == 10 || b[i - 1] == 9) {
                while i < b.count && b[i] != 10 { i += 1 }
                continue
            } else if c == UInt8(ascii: "&") || c == UInt8(ascii: "*") {
                let prev: UInt8 = i > 0 ? b[i - 1] : 10
                if " \t\n[{,:-?".utf8.contains(prev), i + 1 < b.count, isNameByte(b[i + 1]) {
                    var j = i + 1
                    while j < b.count && isNameByte(b[j]) { j += 1 }
                    return String(decoding: b[i..<j], as: UTF8.self)
                }
            }
            i += 1
        }
        return nil
    }

    /// Parses `yaml` into a mapping and rejects fields outside `known`.
    public static func mapping(_ yaml: String, source: String, known: Set<String>) throws -> [String: Any] {
        let node = try load(yaml, source: source)
        guard let dict = node as? [String: Any] else {
            throw InputError("\(source): expected a mapping of fields at the top level")
        }
        // A field given twice would otherwise keep its last value without a word.
        func checkDuplicates(_ m: Node.Mapping, prefix: String) throws {
            var seen = Set<String>()
            for (k, v) in m {
                guard let key = k.string else { continue }
                if !seen.insert(key).inserted {
                    throw InputError("\(source): field '\(prefix)\(key)' is given more than once")
                }
                if let inner = v.mapping { try checkDuplicates(inner, prefix: prefix + key + ".") }
            }
        }
        if let m = (try? Yams.compose(yaml: yaml))??.mapping { try checkDuplicates(m, prefix: "") }
        if let unknown = dict.keys.sorted().first(where: { !known.contains($0) }) {
            throw InputError("\(source): unknown field '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        return dict
    }

    /// Preset files are small mappings: a huge file or deeply nested brackets (which would exhaust
    /// the YAML parser's stack) are rejected before parsing.
    static func checkShape(_ yaml: String, source: String) throws {
        if yaml.utf8.count > 1 << 20 {
            throw InputError("\(source): \(yaml.utf8.count) bytes is too large for a preset file (at most 1 MiB)")
        }
        var depth = 0, deepest = 0
        for b in yaml.utf8 {
            if b == UInt8(ascii: "[") || b == UInt8(ascii: "{") {
                depth += 1; deepest = max(deepest, depth)
            } else if b == UInt8(ascii: "]") || b == UInt8(ascii: "}") {
                depth -= 1
            }
        }
        if deepest > 64 {
            throw InputError("\(source): not valid YAML for a preset (lists nested \(deepest) deep; at most 64)")
        }
    }

    /// The text of a preset file, with one-line errors for a directory or a file that is not text.
    static func read(_ url: URL) throws -> String {
        let data = try InputFile.read(url.path, what: "preset file", maxBytes: 1 << 20)
        guard let text = String(data: data, encoding: .utf8) else {
            throw InputError("preset file '\(url.path)' is not UTF-8 text")
        }
        return text
    }

    /// What a field of type `type` must be, for error messages.
    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is UInt64.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "text"
        case is [Double].Type, is [Float].Type: return "a list of numbers"
        case is [Int].Type: return "a list of integers"
        case is [String].Type: return "a list of names"
        default: return "of type \(type)"
        }
    }

    /// Decodes `yaml` as `T` and runs `validate`, mapping decoding errors to messages naming the field;
    /// `choices` lists the allowed values of the fields that take a name.
    /// `fieldName` names a field from its coding path (default: the dotted path).
    static func decode<T: Decodable>(
        _ type: T.Type, from yaml: String, source: String, choices: [String: [String]] = [:],
        fieldName: ([CodingKey]) -> String = { $0.map(\.stringValue).joined(separator: ".") },
        validate: (T) throws -> Void
    ) throws -> T {
        do {
            let value = try YAMLDecoder().decode(T.self, from: yaml)
            try validate(value)
            return value
        } catch let e as InputError {
            throw e
        } catch let DecodingError.typeMismatch(t, ctx), let DecodingError.valueNotFound(t, ctx) {
            throw InputError("\(source): field '\(fieldName(ctx.codingPath))' must be \(describe(t))")
        } catch let DecodingError.dataCorrupted(ctx) {
            let field = fieldName(ctx.codingPath)
            if let allowed = choices[field] {
                let got = ctx.debugDescription.components(separatedBy: "value ").last ?? ""
                throw InputError(
                    "\(source): field '\(field)' must be one of \(allowed.joined(separator: ", ")) (got '\(got)')")
            }
            throw InputError("\(source): field '\(field)': \(ctx.debugDescription)")
        } catch {
            throw InputError("\(source): \(error)")
        }
    }
}

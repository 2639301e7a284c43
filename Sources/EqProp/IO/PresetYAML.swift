import Yams

/// Reading of preset files (`Models/networks`, `Models/devices`): YAML mapping → checked fields →
/// Codable value, with one-line errors that name the file and the field.
enum PresetYAML {
    /// Parses `yaml` into a mapping and rejects fields outside `known`.
    static func mapping(_ yaml: String, source: String, known: Set<String>) throws -> [String: Any] {
        let node: Any?
        do { node = try Yams.load(yaml: yaml) } catch {
            throw InputError("\(source): not valid YAML (\(String(describing: error).split(separator: "\n").first ?? ""))")
        }
        guard let dict = node as? [String: Any] else { throw InputError("\(source): expected a mapping of fields at the top level") }
        if let unknown = dict.keys.sorted().first(where: { !known.contains($0) }) {
            throw InputError("\(source): unknown field '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        return dict
    }

    /// Decodes `yaml` as `T` and runs `validate`, mapping decoding errors to messages naming the field.
    static func decode<T: Decodable>(_ type: T.Type, from yaml: String, source: String, validate: (T) throws -> Void) throws -> T {
        do {
            let value = try YAMLDecoder().decode(T.self, from: yaml)
            try validate(value)
            return value
        } catch let e as InputError {
            throw e
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx) {
            throw InputError("\(source): field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw InputError("\(source): field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))': \(ctx.debugDescription)")
        } catch {
            throw InputError("\(source): \(error)")
        }
    }
}

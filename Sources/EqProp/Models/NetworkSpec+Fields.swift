import Yams

extension NetworkSpec {
    /// The field names of a network preset file: what `model.FIELD` can name.
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Sets one field from YAML text (sweeps), through the same decoder and validation as files.
    public func setting(_ field: String, to value: String) throws -> NetworkSpec {
        guard Self.fieldNames.contains(field) else {
            throw InputError("unknown model field '\(field)' (known: \(Self.fieldNames.joined(separator: ", ")))")
        }
        var dict = (try Yams.load(yaml: yaml() + "\n") as? [String: Any]) ?? [:]
        dict[field] = try PresetYAML.load(value, source: "model.\(field)")
        return try Self.decode(yaml: try Yams.dump(object: dict), source: "model.\(field)")
    }
}

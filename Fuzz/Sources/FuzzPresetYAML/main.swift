import EqProp
import FuzzDriver

/// One input: read as a network preset and as a device preset (text as UTF-8, invalid bytes
/// replaced). Errors are expected; a trap or a hang is a bug.
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? NetworkSpec.decode(yaml: text, source: "fuzz")
    _ = try? DeviceSpec.decode(yaml: text, source: "fuzz")
    return 0
}

runFuzzer(fuzzOne)

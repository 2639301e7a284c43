import EqProp
import Foundation
import FuzzDriver

/// One input: decoded as a safetensors file. Errors are expected; a trap or a hang is a bug.
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    _ = try? Safetensors.decode(Data(bytes: data, count: size), source: "fuzz")
    return 0
}

runFuzzer(fuzzOne)

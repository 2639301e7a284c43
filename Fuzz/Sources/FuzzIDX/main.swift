import EqProp
import FuzzDriver

/// One input: parsed as an IDX array (any dimension count, then as images and as labels). Errors
/// are expected; a trap, a hang or a sanitizer report is a bug.
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for wanted in [nil, 1, 3] as [Int?] { _ = try? IDX.parse(bytes, source: "fuzz", dimensions: wanted) }
    return 0
}

runFuzzer(fuzzOne)

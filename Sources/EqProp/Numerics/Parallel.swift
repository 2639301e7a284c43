import Dispatch

/// Runs `body(i)` for i in 0..<n on the machine's cores and returns the results in order.
///
/// Used to relax fixed chunks of a mini-batch concurrently: every chunk's work is independent and
/// deterministic, so the results do not depend on how many cores run them or in which order.
public func parallelMap<R>(_ n: Int, _ body: (Int) -> R) -> [R] {
    if n == 1 { return [body(0)] }
    let buf = UnsafeMutablePointer<R?>.allocate(capacity: n)
    buf.initialize(repeating: nil, count: n)
    defer { buf.deinitialize(count: n); buf.deallocate() }
    nonisolated(unsafe) let out = buf
    withoutActuallyEscaping(body) { work in
        nonisolated(unsafe) let w = work
        DispatchQueue.concurrentPerform(iterations: n) { i in out[i] = w(i) }
    }
    return (0..<n).map { buf[$0]! }
}

/// Splits 0..<count into `parts` contiguous, nearly equal ranges (empty ranges dropped).
public func chunkRanges(_ count: Int, parts: Int) -> [Range<Int>] {
    let p = max(1, min(parts, count))
    return (0..<p).map { k in (k * count / p)..<((k + 1) * count / p) }.filter { !$0.isEmpty }
}

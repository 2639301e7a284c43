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

/// glibc heap settings for the training loops.
public enum HeapTuning {
    @_silgen_name("mallopt") private static func mallopt(_ param: Int32, _ value: Int32) -> Int32

    /// Serves large blocks from the heap and never trims it: the dynamics allocate the same large
    /// temporaries (im2col matrices, maps) every step, and mmap/munmap of each costs a page fault
    /// per page on the next step. (M_MMAP_THRESHOLD = −3, M_TRIM_THRESHOLD = −1 in malloc.h.)
    public static func keepFreedMemory() {
        #if os(Linux)
        _ = mallopt(-3, 256 << 20)
        _ = mallopt(-1, Int32.max)
        #endif
    }
}

import Foundation

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

import Dispatch
import Foundation
import Synchronization

/// This process's resident memory (VmRSS in /proc/self/status), in KiB.
func residentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }
    return 0
}

/// Samples resident memory every `interval` on a thread of its own (not the task pool, which the run
/// keeps busy), keeping the peak, until stopped.
final class ResidentMemorySampler: Sendable {
    private let peak = Mutex(0)
    private let samples = Mutex(0)
    private let stopped = Atomic(false)
    private let done = DispatchSemaphore(value: 0)

    init(interval: Duration = .milliseconds(100)) {
        let microseconds = UInt32(interval.components.seconds * 1_000_000 + interval.components.attoseconds / 1_000_000_000_000)
        Thread.detachNewThread { [self] in
            while !stopped.load(ordering: .relaxed) {
                record(residentKiB())
                usleep(microseconds)
            }
            done.signal()
        }
    }

    private func record(_ kib: Int) {
        peak.withLock { $0 = max($0, kib) }
        samples.withLock { $0 += 1 }
    }

    /// Stops sampling (after one last sample) and returns the peak in KiB and the number of samples.
    func stop() -> (peakKiB: Int, samples: Int) {
        stopped.store(true, ordering: .relaxed)
        done.wait()
        record(residentKiB())
        return (peak.withLock { $0 }, samples.withLock { $0 })
    }
}

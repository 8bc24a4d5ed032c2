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

/// CPU time this process has used (user and system), in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The one-minute load average of the machine: how many other processes competed for its CPUs.
func loadAverage() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return 0 }
    return Double(text.split(separator: " ").first ?? "") ?? 0
}

/// Samples resident memory every `interval` on a thread of its own (not the task pool, which the run
/// keeps busy), keeping the peak, until stopped.
final class ResidentMemorySampler: Sendable {
    private let peak = Mutex(0)
    private let samples = Mutex(0)
    private let stopped = Atomic(false)
    private let done = DispatchSemaphore(value: 0)

    /// - Parameter tick: called on the sampling thread every `ticksEvery` samples with the time since
    ///   the start in seconds and the latest sample, for a timeline (`--trace`).
    init(interval: Duration = .milliseconds(100), ticksEvery: Int = 50, tick: (@Sendable (Double, Int) -> Void)? = nil) {
        let microseconds = UInt32(interval.components.seconds * 1_000_000 + interval.components.attoseconds / 1_000_000_000_000)
        let start = ContinuousClock.now
        Thread.detachNewThread { [self] in
            var count = 0
            while !stopped.load(ordering: .relaxed) {
                let kib = residentKiB()
                record(kib)
                count += 1
                if let tick, count % ticksEvery == 0 {
                    let elapsed = start.duration(to: .now)
                    tick(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, kib)
                }
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

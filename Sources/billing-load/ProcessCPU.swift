import Foundation

/// The CPU time a process has used, all its threads together: utime + stime from /proc/PID/stat.
///
/// billing-load reads its own and the server's when the measured window opens and when it closes:
/// client and server share the machine's cores, so calls per second alone cannot say which of the two
/// a call's cost belongs to.
enum ProcessCPU {
    /// Seconds of CPU used so far by `pid`, or by this process when nil; nil if the file cannot be read.
    static func seconds(of pid: Int32? = nil) -> Double? {
        let path = pid.map { "/proc/\($0)/stat" } ?? "/proc/self/stat"
        // FileHandle reads to the end: /proc files report a size of 0.
        guard let file = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? file.close() }
        guard let data = try? file.readToEnd(), let text = String(data: data, encoding: .utf8),
              let nameEnd = text.lastIndex(of: ")") else { return nil }
        // After the command name, which is in parentheses and may hold spaces: the state is field 3,
        // utime field 14 and stime field 15, in clock ticks.
        let fields = text[text.index(after: nameEnd)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// CPU seconds of billing-load and of the server over the measured window.
struct CPUUse: Sendable {
    var client: Double
    var server: Double?

    /// From two readings: the window's start and its end.
    init?(from start: (client: Double?, server: Double?), to end: (client: Double?, server: Double?)) {
        guard let clientStart = start.client, let clientEnd = end.client else { return nil }
        client = clientEnd - clientStart
        if let serverStart = start.server, let serverEnd = end.server { server = serverEnd - serverStart }
    }
}

import CPeerCredentials
#if canImport(Glibc)
import Glibc
#endif

/// The caller's identity as the kernel reports it for a Unix socket (`SO_PEERCRED`).
public struct PeerCredentials: Hashable, Sendable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    public var description: String { "pid=\(pid) uid=\(uid) gid=\(gid)" }
}

/// Why a socket operation failed, with the path and the system's reason.
public struct SocketError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var path: String
    public var errno: Int32

    public init(_ operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
}

/// The few Unix stream socket system calls the server and the client share, kept in one place.
public enum UnixSocket {
    /// `sun_path` holds 108 bytes including the terminating NUL.
    public static let maxPathLength = 107

    /// Connects to the socket at `path`; the returned descriptor is non-blocking and close-on-exec.
    public static func connect(path: String) throws(SocketError) -> Int32 {
        let fd = try makeSocket(path: path)
        let result = withAddress(path) { Glibc.connect(fd, $0, $1) }
        guard result == 0 else {
            let error = SocketError("connect to", path: path, errno: errno)
            close(fd)
            throw error
        }
        try setNonBlocking(fd, path: path)
        return fd
    }

    /// Binds and listens at `path` with the given file mode. A socket file left behind by a process that
    /// is gone is replaced; one that something still listens on is an error, and so is any other file.
    public static func listen(path: String, mode: mode_t, backlog: Int32) throws(SocketError) -> Int32 {
        var status = stat()
        if lstat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFSOCK else { throw SocketError("refusing to replace non-socket file", path: path, errno: EEXIST) }
            if let probe = try? connect(path: path) {
                close(probe)
                throw SocketError("another server is already listening on", path: path, errno: EADDRINUSE)
            }
            unlink(path)
        }
        let fd = try makeSocket(path: path)
        // Create the file with no more than `mode` allows, then set exactly `mode`.
        let previousMask = umask(~mode & 0o777)
        let bound = withAddress(path) { bind(fd, $0, $1) }
        let bindErrno = errno
        umask(previousMask)
        guard bound == 0 else {
            close(fd)
            throw SocketError("bind", path: path, errno: bindErrno)
        }
        guard chmod(path, mode) == 0, Glibc.listen(fd, backlog) == 0 else {
            let error = SocketError("listen on", path: path, errno: errno)
            close(fd)
            throw error
        }
        try setNonBlocking(fd, path: path)
        return fd
    }

    /// What `accept` found on a listening socket.
    public enum Accepted {
        /// A new connection, already non-blocking and close-on-exec.
        case connection(Int32)
        case noneWaiting
        /// The process or system is out of file descriptors: stop accepting for a moment.
        case outOfDescriptors
    }

    public static func accept(_ listeningSocket: Int32) -> Accepted {
        while true {
            let fd = Glibc.accept(listeningSocket, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                return .connection(fd)
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM: return .outOfDescriptors
            default: return .noneWaiting
            }
        }
    }

    /// The credentials of the process on the other end of a connected socket.
    public static func peerCredentials(of fd: Int32) -> PeerCredentials? {
        var credentials = PeerCredentials(pid: 0, uid: 0, gid: 0)
        guard billing_peer_credentials(fd, &credentials.pid, &credentials.uid, &credentials.gid) == 0 else { return nil }
        return credentials
    }

    public static func setNonBlocking(_ fd: Int32, path: String) throws(SocketError) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw SocketError("set non-blocking", path: path, errno: errno)
        }
    }

    /// Writes as much of `bytes[offset...]` as the socket takes now. Returns how many bytes were written
    /// (0 when the socket is full), or nil when the connection is gone.
    public static func writeSome(_ fd: Int32, _ bytes: [UInt8], from offset: Int) -> Int? {
        let result = bytes.withUnsafeBytes { buffer in
            send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
        }
        if result >= 0 { return result }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : nil
    }

    private static func makeSocket(path: String) throws(SocketError) -> Int32 {
        guard path.utf8.count <= maxPathLength else { throw SocketError("socket path longer than 107 bytes", path: path, errno: ENAMETOOLONG) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("create socket for", path: path, errno: errno) }
        return fd
    }

    private static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(maxPathLength))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}

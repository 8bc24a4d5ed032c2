import BillingWire
#if canImport(Glibc)
import Glibc
#endif

/// Upper bounds on everything a peer can make the server hold. Each has a default that suits a
/// billing service on one machine; `billingd` lets an operator change them.
public struct ServerLimits: Sendable {
    /// Largest frame payload accepted; a larger frame is answered RESOURCE_EXHAUSTED, and its connection
    /// told so with GOAWAY and closed without reading the payload, once its calls in flight finish.
    public var maxFramePayloadBytes = 4 * 1024 * 1024
    /// Bytes held for frames not yet arrived whole, across every connection, a frame counted at its
    /// declared size once its header has arrived: past it, the connection whose frame would pass it is
    /// told so with GOAWAY and closed.
    public var maxBufferedInboundBytes = 64 * 1024 * 1024
    /// Metadata entries per call, and their keys and values added up.
    public var maxMetadataEntries = 64
    public var maxMetadataBytes = 8 * 1024
    /// Calls running at once on one connection; more are answered RESOURCE_EXHAUSTED.
    public var maxCallsInFlightPerConnection = 256
    /// Open connections; more are told GOAWAY with RESOURCE_EXHAUSTED and closed.
    public var maxConnections = 4096
    /// Connections accepted per second (refused ones included), in bursts of up to a tenth of it; more
    /// wait in the kernel's listen backlog. Each new connection costs the server about 50–100 µs of CPU,
    /// so a peer that connected and closed as fast as it could took a core and left other clients
    /// waiting behind it; at this rate churn costs about a fifth of a core (17–27 % measured). 0: no limit.
    public var maxNewConnectionsPerSecond = 2000
    /// Reply bytes waiting for a peer that does not read; past it the server stops reading that peer. A
    /// client that reads its replies never comes near it (its socket holds about 200 KiB more), and a
    /// larger reply is still sent whole. It was 8 MiB: 32 peers that never read made the server answer
    /// a quarter of a gigabyte of calls before it stopped reading them, and a good client's health check
    /// waited behind that work (p99 12 ms, 3x its baseline; with 256 KiB, within its baseline).
    public var maxBufferedOutboundBytesPerConnection = 256 * 1024
    /// Reply bytes waiting for their peers across every connection: past it, every connection holding
    /// more than 64 KiB of them (`FrameChannel.outboundShareBytes`) stops being read too. The limit on
    /// connections would otherwise allow 4,096 peers that never read to hold the per-connection limit each.
    public var maxBufferedOutboundBytes = 64 * 1024 * 1024
    /// A connection with no call in flight and no traffic for this long is closed.
    public var idleTimeout: Duration = .seconds(300)
    /// The deadline of a call whose request names none, and the longest one a request may ask for.
    public var defaultCallTimeout: Duration = .seconds(30)
    public var maxCallTimeout: Duration = .seconds(600)
    /// Server streams: DATA frames in flight before the client grants more, when the request names no
    /// window. A request may ask for up to `StreamWindow.max`.
    public var defaultStreamWindow: UInt32 = 16

    public init() {}
}

/// Who may call, and what: the socket file's mode is the first gate, these lists the second.
///
/// A caller named in the `allowed` lists may call every method; one named only in the `readOnly` lists
/// may call the methods its services mark read-only (`RPCService.isReadOnly`), never one that moves
/// money or changes anything. With every list empty, every peer that can open the socket may call
/// everything.
public struct AccessPolicy: Sendable {
    /// What a caller may do.
    public enum Role: Sendable, Equatable {
        case none
        case readOnly
        case full
    }

    public var allowedUserIDs: Set<UInt32> = []
    public var allowedGroupIDs: Set<UInt32> = []
    public var readOnlyUserIDs: Set<UInt32> = []
    public var readOnlyGroupIDs: Set<UInt32> = []

    public init(
        allowedUserIDs: Set<UInt32> = [], allowedGroupIDs: Set<UInt32> = [], readOnlyUserIDs: Set<UInt32> = [], readOnlyGroupIDs: Set<UInt32> = []
    ) {
        self.allowedUserIDs = allowedUserIDs
        self.allowedGroupIDs = allowedGroupIDs
        self.readOnlyUserIDs = readOnlyUserIDs
        self.readOnlyGroupIDs = readOnlyGroupIDs
    }

    /// The caller's role, by its uid and gid as the kernel reports them; full access wins over read-only.
    public func role(of peer: PeerCredentials?) -> Role {
        if allowedUserIDs.isEmpty && allowedGroupIDs.isEmpty && readOnlyUserIDs.isEmpty && readOnlyGroupIDs.isEmpty { return .full }
        guard let peer else { return .none }
        if allowedUserIDs.contains(peer.uid) || allowedGroupIDs.contains(peer.gid) { return .full }
        if readOnlyUserIDs.contains(peer.uid) || readOnlyGroupIDs.contains(peer.gid) { return .readOnly }
        return .none
    }
}

/// Where and how the server listens.
public struct ServerConfiguration: Sendable {
    public var socketPath: String
    /// The socket file's permission bits; 0660 lets the owner and its group connect.
    public var socketMode: mode_t = 0o660
    public var limits = ServerLimits()
    public var access = AccessPolicy()
    /// How long calls in flight may run after a shutdown begins.
    public var shutdownGracePeriod: Duration = .seconds(10)

    public init(socketPath: String) {
        self.socketPath = socketPath
    }
}

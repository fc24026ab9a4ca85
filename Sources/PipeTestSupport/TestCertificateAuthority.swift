import Foundation

/// A certificate authority made for one test with the `openssl` command, and a server certificate
/// it signed for `localhost` and 127.0.0.1 (valid two days): PEM files in a directory of the test's.
/// Nothing on the machine trusts the authority; a client does only when given `certificate`.
public struct TestCertificateAuthority {
    /// The authority's certificate: what a client is told to trust (`ca-file`).
    public let certificate: String
    /// The server's certificate and its private key.
    public let serverCertificate: String
    public let serverKey: String

    /// Makes the authority and the server certificate in `directory` (created if needed).
    public init(in directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        certificate = directory + "/ca.pem"
        serverCertificate = directory + "/server.pem"
        serverKey = directory + "/server.key"
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.openssl(["req", "-x509"] + key + ["-keyout", directory + "/ca.key", "-out", certificate, "-days", "2",
                          "-subj", "/CN=pipe test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try Self.openssl(["req"] + key + ["-keyout", serverKey, "-out", directory + "/server.csr", "-subj", "/CN=localhost"])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(toFile: directory + "/server.ext", atomically: true, encoding: .utf8)
        try Self.openssl(["x509", "-req", "-in", directory + "/server.csr", "-CA", certificate, "-CAkey", directory + "/ca.key",
                          "-CAcreateserial", "-out", serverCertificate, "-days", "2", "-extfile", directory + "/server.ext"])
    }

    private static func openssl(_ arguments: [String]) throws {
        let binary = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let binary else { throw BackgroundProcess.Unavailable("openssl is not installed (apt-get install openssl)") }
        let result = BackgroundProcess.run(binary, arguments)
        guard result.status == 0 else { throw BackgroundProcess.Unavailable("openssl \(arguments.prefix(2).joined(separator: " ")) failed (\(result.status))") }
    }
}

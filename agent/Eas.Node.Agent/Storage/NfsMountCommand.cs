namespace Eas.Node.Agent.Storage;

/// <summary>The pure parts of an nfs mount: the export's name and the mount(8) command line.</summary>
public static class NfsMountCommand
{
    /// <summary>
    /// NFS 4.1, hard (I/O waits for a server that comes back rather than failing), 60 s timeouts, two retries
    /// before "server not responding", a non-reserved source port (servers behind NAT), and ro when read-only.
    /// </summary>
    public static string Options(bool readOnly) => "nfsvers=4.1,hard,timeo=600,retrans=2,noresvport" + (readOnly ? ",ro" : "");

    /// <summary>True for a server mount(8) can be given: a host name or an IP address (no scheme, port, path or spaces).</summary>
    public static bool IsServer(string server) =>
        server.Length > 0 && !server.StartsWith('-') && Uri.CheckHostName(server) is UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6;

    /// <summary>"server:/path" ("[v6 address]:/path" for an IPv6 server); "/" when <paramref name="path"/> is empty.</summary>
    public static string Source(string server, string path)
    {
        var host = Uri.CheckHostName(server) == UriHostNameType.IPv6 && !server.StartsWith('[') ? $"[{server}]" : server;
        var export = path.Trim();
        return $"{host}:{(export.StartsWith('/') ? export : "/" + export)}";
    }

    /// <summary>The arguments of <c>mount</c> that mount the export at <paramref name="target"/>.</summary>
    public static IReadOnlyList<string> Arguments(string server, string path, string target, bool readOnly) =>
        ["-t", "nfs", "-o", Options(readOnly), Source(server, path), target];
}

using System.Text.Json;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Interop;

namespace Eas.Node.Agent.Storage;

/// <summary>One object-store key pair. <see cref="ToString"/> never shows it.</summary>
public sealed class OssCredential(string accessKeyId, string secretAccessKey)
{
    /// <summary>The access key id.</summary>
    public string AccessKeyId { get; } = accessKeyId;

    /// <summary>The secret access key.</summary>
    public string SecretAccessKey { get; } = secretAccessKey;

    /// <inheritdoc/>
    public override string ToString() => "OssCredential(***)";
}

/// <summary>
/// Reads the node's object-store credentials (Agent:Storage:SecretsFile): a JSON object of named key pairs,
/// <c>{"default": {"accessKeyId": "…", "secretAccessKey": "…"}, "team-a": {…}}</c>, owned by root and readable
/// by nobody else. Errors name the file, the credential and the fix, never a key.
/// </summary>
public static class OssCredentials
{
    /// <summary>The credential a mount gets when it names none.</summary>
    public const string DefaultName = "default";

    private const string Shape = "{\"default\": {\"accessKeyId\": \"…\", \"secretAccessKey\": \"…\"}}";

    /// <summary>The credential <paramref name="secretName"/> ("" for "default") from <paramref name="file"/>.</summary>
    /// <param name="file">The secrets file.</param>
    /// <param name="secretName">oss.secret of the mount.</param>
    /// <param name="entry">How errors name the storage entry ("storage[0] (/mnt/data)").</param>
    /// <exception cref="InstanceFailedException">The file is missing, unsafe, malformed, or lacks the credential.</exception>
    public static OssCredential Load(string file, string secretName, string entry)
    {
        var name = secretName.Length > 0 ? secretName : DefaultName;
        var setting = $"{file} (Agent:Storage:SecretsFile)";
        var errno = FileStatus.Stat(file, out var owner, out var mode);
        if (errno == FileStatus.NotFound)
        {
            throw new InstanceFailedException($"{entry}: the node's object-store credentials file {setting} does not exist; create it, owned by root with mode 0600, as {Shape}");
        }

        if (errno != 0)
        {
            throw new InstanceFailedException($"{entry}: cannot read {setting}: {Errors.Describe(errno)}; make it a file owned by root with mode 0600");
        }

        if (owner != 0)
        {
            throw new InstanceFailedException($"{entry}: {setting} is owned by uid {owner}, not root; it holds keys, so only root may own it: chown root:root {file}");
        }

        if ((mode & 0x3F) != 0)
        {
            throw new InstanceFailedException($"{entry}: {setting} can be read or written by group or others (mode {Convert.ToString(mode & 0xFFF, 8).PadLeft(4, '0')}); it holds keys: chmod 600 {file}");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(file));
        }
        catch (JsonException ex)
        {
            // The parser's message can quote the text around the error, which may be a key: give the position only.
            throw new InstanceFailedException($"{entry}: {setting} is not valid JSON (line {(ex.LineNumber ?? 0) + 1}); write it as {Shape}");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InstanceFailedException($"{entry}: {setting} is not a JSON object of named credentials; write it as {Shape}");
            }

            if (!document.RootElement.TryGetProperty(name, out var credential))
            {
                var names = document.RootElement.EnumerateObject().Select(p => $"\"{p.Name}\"").ToList();
                var has = names.Count > 0 ? $"it has {string.Join(", ", names)}" : "it has none";
                throw new InstanceFailedException(secretName.Length > 0
                    ? $"{entry}: oss.secret \"{name}\" is not a credential in {setting} ({has}); add \"{name}\" to the file or set oss.secret to one it has"
                    : $"{entry}: the mount names no oss.secret and {setting} has no \"{DefaultName}\" credential ({has}); add \"{DefaultName}\" to the file or set oss.secret");
            }

            var accessKeyId = Text(credential, "accessKeyId");
            var secretAccessKey = Text(credential, "secretAccessKey");
            if (accessKeyId is null || secretAccessKey is null)
            {
                throw new InstanceFailedException($"{entry}: credential \"{name}\" in {setting} needs non-empty \"accessKeyId\" and \"secretAccessKey\" strings; write it as {Shape}");
            }

            if (accessKeyId.Contains(':', StringComparison.Ordinal) || accessKeyId.Any(char.IsControl) || secretAccessKey.Any(char.IsControl))
            {
                throw new InstanceFailedException($"{entry}: credential \"{name}\" in {setting} has a colon in its accessKeyId or a line break in a key, which s3fs's password file cannot hold; check that the keys were pasted whole");
            }

            return new OssCredential(accessKeyId, secretAccessKey);
        }
    }

    private static string? Text(JsonElement credential, string property) =>
        credential.ValueKind == JsonValueKind.Object
        && credential.TryGetProperty(property, out var value)
        && value.ValueKind == JsonValueKind.String
        && value.GetString() is { Length: > 0 } text
            ? text
            : null;
}

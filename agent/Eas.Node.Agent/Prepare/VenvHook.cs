using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Storage;

namespace Eas.Node.Agent.Prepare;

/// <summary>Gives an instance that asks for Python requirements its shared virtual environment.</summary>
public sealed class VenvHook(PythonVenvs venvs) : IPrestartHook
{
    /// <inheritdoc/>
    public string Name => "venv";

    /// <inheritdoc/>
    public async Task PrestartAsync(InstanceContext context, CancellationToken cancellationToken)
    {
        var spec = context.Assignment.Spec ?? new();
        var requirements = new List<string>(spec.PythonRequirements);
        if (spec.PythonRequirementsPath.Length > 0)
        {
            var hostPath = StorageMounts.MapToHost(spec, spec.PythonRequirementsPath)
                ?? throw new InstanceFailedException($"python_requirements_path '{spec.PythonRequirementsPath}' is not under any host mount of the instance; put it under a storage mount_path");
            if (!File.Exists(hostPath))
            {
                throw new InstanceFailedException($"python_requirements_path '{spec.PythonRequirementsPath}' (host file {hostPath}) does not exist");
            }

            requirements.AddRange(await File.ReadAllLinesAsync(hostPath, cancellationToken));
        }

        context.Record.VenvDir = PythonVenvs.Normalize(requirements).Count == 0 ? "" : await venvs.EnsureAsync(requirements, cancellationToken);
    }
}

using Eas.Node.Agent;

// eas-agent [cleanup] [--config PATH] [--Agent:Key=value …]
return await AgentHost.RunAsync(args, Console.Error);

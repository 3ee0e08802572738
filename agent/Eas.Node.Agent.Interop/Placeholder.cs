namespace Eas.Node.Agent.Interop;

namespace Eas.Node.Scheduler;

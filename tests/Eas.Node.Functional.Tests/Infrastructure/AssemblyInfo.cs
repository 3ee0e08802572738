// The clusters (CPU-only and fake-GPU) each start daemons, containers and a bridge: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

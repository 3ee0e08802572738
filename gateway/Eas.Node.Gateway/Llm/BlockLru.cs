namespace Eas.Node.Gateway.Llm;

/// <summary>
/// The block hashes one replica has probably cached: an exact LRU with a capacity, standing in for the engine's KV
/// cache. Thread-safe (one lock per replica); storage grows with use up to the capacity.
/// </summary>
internal sealed class BlockLru
{
    private const int None = -1;

    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, int> _slots = [];
    private readonly Stack<int> _free = new();
    private ulong[] _keys = [];
    private int[] _prev = [];
    private int[] _next = [];
    private int _used;
    private int _head = None;
    private int _tail = None;
    private int _capacity;

    public BlockLru(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    public int Capacity => Volatile.Read(ref _capacity);

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _slots.Count;
            }
        }
    }

    /// <summary>How many leading blocks of <paramref name="blocks"/> are present (chained hashes: a prefix match).</summary>
    public int Match(ReadOnlySpan<ulong> blocks)
    {
        lock (_lock)
        {
            var matched = 0;
            while (matched < blocks.Length && _slots.ContainsKey(blocks[matched]))
            {
                matched++;
            }

            return matched;
        }
    }

    /// <summary>
    /// Records that the replica now holds <paramref name="blocks"/>. They are touched last-to-first, so the first
    /// block ends most recent and eviction eats a prefix from its tail (as vLLM frees blocks), never from its head.
    /// </summary>
    public void Insert(ReadOnlySpan<ulong> blocks)
    {
        lock (_lock)
        {
            for (var i = blocks.Length - 1; i >= 0; i--)
            {
                var key = blocks[i];
                if (_slots.TryGetValue(key, out var slot))
                {
                    MoveToFront(slot);
                    continue;
                }

                if (_slots.Count >= _capacity)
                {
                    slot = _tail;
                    Unlink(slot);
                    _slots.Remove(_keys[slot]);
                }
                else
                {
                    slot = Allocate();
                }

                _keys[slot] = key;
                _slots[key] = slot;
                LinkFront(slot);
            }
        }
    }

    /// <summary>Changes the capacity; shrinking evicts the least recent blocks at once.</summary>
    public void SetCapacity(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        lock (_lock)
        {
            _capacity = capacity;
            while (_slots.Count > capacity)
            {
                var slot = _tail;
                Unlink(slot);
                _slots.Remove(_keys[slot]);
                _free.Push(slot);
            }
        }
    }

    private int Allocate()
    {
        if (_free.TryPop(out var slot))
        {
            return slot;
        }

        if (_used == _keys.Length)
        {
            var size = Math.Min(Math.Max(64, _keys.Length * 2), Math.Max(_capacity, 64));
            Array.Resize(ref _keys, size);
            Array.Resize(ref _prev, size);
            Array.Resize(ref _next, size);
        }

        return _used++;
    }

    private void MoveToFront(int slot)
    {
        if (slot == _head)
        {
            return;
        }

        Unlink(slot);
        LinkFront(slot);
    }

    private void LinkFront(int slot)
    {
        _prev[slot] = None;
        _next[slot] = _head;
        if (_head != None)
        {
            _prev[_head] = slot;
        }

        _head = slot;
        if (_tail == None)
        {
            _tail = slot;
        }
    }

    private void Unlink(int slot)
    {
        var prev = _prev[slot];
        var next = _next[slot];
        if (prev != None)
        {
            _next[prev] = next;
        }
        else
        {
            _head = next;
        }

        if (next != None)
        {
            _prev[next] = prev;
        }
        else
        {
            _tail = prev;
        }
    }
}

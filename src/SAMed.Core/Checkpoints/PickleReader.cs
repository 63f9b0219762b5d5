using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Checkpoints;

/// <summary>
/// A small pickle virtual machine for the objects torch.save writes for a state dict: dicts and OrderedDicts of
/// tensors rebuilt by torch._utils._rebuild_tensor(_v2), optionally wrapped in _rebuild_parameter, whose storages
/// are persistent ids pointing to data/N records of the zip archive. Anything else is a clear error.
/// </summary>
internal sealed class PickleReader(ZipArchive archive, string path)
{
    private sealed record Global(string Module, string Name)
    {
        public string FullName => $"{Module}.{Name}";
    }

    private sealed record StorageRef(ScalarType Dtype, string Key, long Count);

    private sealed record TensorRef(StorageRef Storage, long Offset, long[] Shape, long[] Stride);

    private sealed class PyDict
    {
        public List<KeyValuePair<object, object?>> Items { get; } = [];

        public void Set(object key, object? value)
        {
            int index = Items.FindIndex(kv => Equals(kv.Key, key));
            if (index >= 0)
                Items[index] = new(key, value);
            else
                Items.Add(new(key, value));
        }
    }

    private sealed class Mark;

    private static readonly Mark MarkObject = new();

    private readonly string _prefix = FindPrefix(archive, path);

    public Dictionary<string, Tensor> ReadStateDict()
    {
        CheckByteOrder();
        var pickleEntry = archive.GetEntry(_prefix + "data.pkl")
            ?? throw new InvalidDataException($"{path}: no data.pkl in the checkpoint archive");
        byte[] pickle = ReadEntry(pickleEntry, pickleEntry.Length);

        object? root = Execute(pickle);
        if (root is not PyDict dict)
            throw new InvalidDataException($"{path}: the checkpoint holds a {Describe(root)}, not a state dict");

        var storages = new Dictionary<string, Tensor>();
        var result = new Dictionary<string, Tensor>();
        try
        {
            foreach (var (key, value) in dict.Items)
            {
                if (key is not string name)
                    throw new InvalidDataException($"{path}: a state-dict key is a {Describe(key)}, not a string");
                if (value is not TensorRef tensor)
                    throw new InvalidDataException($"{path}: entry '{name}' is a {Describe(value)}, not a tensor");
                result[name] = Materialize(name, tensor, storages);
            }
        }
        catch
        {
            foreach (var t in result.Values)
                t.Dispose();
            throw;
        }
        finally
        {
            foreach (var s in storages.Values)
                s.Dispose();
        }
        return result;
    }

    private static string FindPrefix(ZipArchive archive, string path)
    {
        var pkl = archive.Entries.FirstOrDefault(e => e.FullName == "data.pkl" || e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal))
            ?? throw new InvalidDataException($"{path}: no data.pkl in the zip archive, so it is not a torch.save checkpoint");
        return pkl.FullName[..^"data.pkl".Length];
    }

    private void CheckByteOrder()
    {
        var entry = archive.GetEntry(_prefix + "byteorder");
        if (entry is null)
            return;
        string order = Encoding.ASCII.GetString(ReadEntry(entry, entry.Length)).Trim();
        if (order != "little")
            throw new InvalidDataException($"{path}: tensors are stored in '{order}' byte order; only little-endian checkpoints are supported");
    }

    private byte[] ReadEntry(ZipArchiveEntry entry, long expectedLength)
    {
        if (entry.Length != expectedLength)
        {
            throw new InvalidDataException(
                $"{path}: record {entry.FullName} holds {entry.Length} bytes but {expectedLength} are expected");
        }
        if (expectedLength > Array.MaxLength)
            throw new InvalidDataException($"{path}: record {entry.FullName} is too large ({expectedLength} bytes)");
        var buffer = new byte[expectedLength];
        using (var stream = entry.Open())
            stream.ReadExactly(buffer);
        if (Crc32.Compute(buffer) != entry.Crc32)
            throw new InvalidDataException($"{path}: record {entry.FullName} is corrupt (its CRC-32 does not match)");
        return buffer;
    }

    private Tensor Materialize(string name, TensorRef tensor, Dictionary<string, Tensor> storages)
    {
        var storage = tensor.Storage;
        if (!storages.TryGetValue(storage.Key, out var flat))
        {
            var entry = archive.GetEntry(_prefix + "data/" + storage.Key)
                ?? throw new InvalidDataException($"{path}: record data/{storage.Key} of tensor '{name}' is missing");
            long byteCount = storage.Count * PthStateDict.ElementSize(storage.Dtype);
            byte[] bytes = ReadEntry(entry, byteCount);
            flat = torch.empty(storage.Count, storage.Dtype);
            if (byteCount > 0)
                flat.bytes = bytes;
            storages[storage.Key] = flat;
        }

        long extent = 1;
        for (int i = 0; i < tensor.Shape.Length; i++)
        {
            if (tensor.Shape[i] < 0 || tensor.Stride[i] < 0)
                throw new InvalidDataException($"{path}: tensor '{name}' has a negative size or stride");
            if (tensor.Shape[i] == 0)
                extent = 0;
        }
        if (extent != 0)
        {
            long last = tensor.Offset;
            for (int i = 0; i < tensor.Shape.Length; i++)
                last += (tensor.Shape[i] - 1) * tensor.Stride[i];
            if (tensor.Offset < 0 || last >= storage.Count)
            {
                throw new InvalidDataException(
                    $"{path}: tensor '{name}' of shape [{string.Join(", ", tensor.Shape)}] reaches past its storage of {storage.Count} elements");
            }
        }

        using var view = flat.as_strided(tensor.Shape, tensor.Stride, tensor.Offset);
        return view.contiguous().clone();
    }

    private object? Execute(byte[] data)
    {
        var stack = new List<object?>();
        var memo = new Dictionary<long, object?>();
        int pos = 0;

        byte ReadByte()
        {
            if (pos >= data.Length)
                throw new InvalidDataException($"{path}: data.pkl ends unexpectedly");
            return data[pos++];
        }

        ReadOnlySpan<byte> ReadBytes(long count)
        {
            if (count < 0 || pos + count > data.Length)
                throw new InvalidDataException($"{path}: data.pkl ends unexpectedly");
            var span = data.AsSpan(pos, (int)count);
            pos += (int)count;
            return span;
        }

        string ReadLine()
        {
            int start = pos;
            while (pos < data.Length && data[pos] != (byte)'\n')
                pos++;
            if (pos >= data.Length)
                throw new InvalidDataException($"{path}: data.pkl ends unexpectedly");
            string line = Encoding.UTF8.GetString(data, start, pos - start);
            pos++;
            return line;
        }

        object? Pop()
        {
            if (stack.Count == 0)
                throw new InvalidDataException($"{path}: data.pkl pops an empty stack");
            var top = stack[^1];
            stack.RemoveAt(stack.Count - 1);
            return top;
        }

        List<object?> PopMark()
        {
            int mark = stack.FindLastIndex(o => ReferenceEquals(o, MarkObject));
            if (mark < 0)
                throw new InvalidDataException($"{path}: data.pkl has no MARK where one is needed");
            var items = stack.GetRange(mark + 1, stack.Count - mark - 1);
            stack.RemoveRange(mark, stack.Count - mark);
            return items;
        }

        object? Top() => stack.Count > 0 ? stack[^1] : throw new InvalidDataException($"{path}: data.pkl reads an empty stack");

        while (true)
        {
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: ReadByte(); break;                                   // PROTO
                case 0x95: ReadBytes(8); break;                                 // FRAME
                case (byte)'.': return Pop();                                   // STOP
                case (byte)'(': stack.Add(MarkObject); break;                   // MARK
                case (byte)'}': stack.Add(new PyDict()); break;                 // EMPTY_DICT
                case (byte)']': stack.Add(new List<object?>()); break;          // EMPTY_LIST
                case (byte)')': stack.Add(Array.Empty<object?>()); break;       // EMPTY_TUPLE
                case (byte)'N': stack.Add(null); break;                         // NONE
                case 0x88: stack.Add(true); break;                              // NEWTRUE
                case 0x89: stack.Add(false); break;                             // NEWFALSE
                case (byte)'K': stack.Add((long)ReadByte()); break;             // BININT1
                case (byte)'M': stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break; // BININT2
                case (byte)'J': stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;  // BININT
                case 0x8a:                                                      // LONG1
                    {
                        var bytes = ReadBytes(ReadByte());
                        if (bytes.Length > 8)
                            throw new InvalidDataException($"{path}: data.pkl holds an integer too large for 64 bits");
                        long value = 0;
                        for (int i = bytes.Length - 1; i >= 0; i--)
                            value = (value << 8) | bytes[i];
                        if (bytes.Length is > 0 and < 8 && (bytes[^1] & 0x80) != 0)
                            value -= 1L << (8 * bytes.Length);
                        stack.Add(value);
                        break;
                    }
                case (byte)'G': stack.Add(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break; // BINFLOAT
                case (byte)'X': stack.Add(Encoding.UTF8.GetString(ReadBytes(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))))); break; // BINUNICODE
                case 0x8c: stack.Add(Encoding.UTF8.GetString(ReadBytes(ReadByte()))); break; // SHORT_BINUNICODE
                case 0x8d: stack.Add(Encoding.UTF8.GetString(ReadBytes(BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8))))); break; // BINUNICODE8
                case (byte)'U': stack.Add(Encoding.Latin1.GetString(ReadBytes(ReadByte()))); break; // SHORT_BINSTRING
                case (byte)'T': stack.Add(Encoding.Latin1.GetString(ReadBytes(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))))); break; // BINSTRING
                case (byte)'C': stack.Add(ReadBytes(ReadByte()).ToArray()); break; // SHORT_BINBYTES
                case (byte)'B': stack.Add(ReadBytes(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))).ToArray()); break; // BINBYTES
                case (byte)'c': stack.Add(new Global(ReadLine(), ReadLine())); break; // GLOBAL
                case 0x93:                                                      // STACK_GLOBAL
                    {
                        string name = Pop() as string ?? throw new InvalidDataException($"{path}: bad STACK_GLOBAL");
                        string module = Pop() as string ?? throw new InvalidDataException($"{path}: bad STACK_GLOBAL");
                        stack.Add(new Global(module, name));
                        break;
                    }
                case (byte)'q': memo[ReadByte()] = Top(); break;                // BINPUT
                case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))] = Top(); break; // LONG_BINPUT
                case 0x94: memo[memo.Count] = Top(); break;                      // MEMOIZE
                case (byte)'h': stack.Add(Memo(memo, ReadByte())); break;        // BINGET
                case (byte)'j': stack.Add(Memo(memo, BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // LONG_BINGET
                case (byte)'t': stack.Add(PopMark().ToArray()); break;           // TUPLE
                case 0x85: stack.Add(new[] { Pop() }); break;                    // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); stack.Add(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); stack.Add(new[] { a, b, c }); break; } // TUPLE3
                case (byte)'l': stack.Add(PopMark()); break;                     // LIST
                case (byte)'a': { var item = Pop(); AsList(Top()).Add(item); break; } // APPEND
                case (byte)'e': { var items = PopMark(); AsList(Top()).AddRange(items); break; } // APPENDS
                case (byte)'d':                                                  // DICT
                    {
                        var items = PopMark();
                        var dict = new PyDict();
                        for (int i = 0; i + 1 < items.Count; i += 2)
                            dict.Set(Key(items[i]), items[i + 1]);
                        stack.Add(dict);
                        break;
                    }
                case (byte)'s': { var value = Pop(); var key = Pop(); AsDict(Top()).Set(Key(key), value); break; } // SETITEM
                case (byte)'u':                                                  // SETITEMS
                    {
                        var items = PopMark();
                        var dict = AsDict(Top());
                        for (int i = 0; i + 1 < items.Count; i += 2)
                            dict.Set(Key(items[i]), items[i + 1]);
                        break;
                    }
                case (byte)'R':                                                  // REDUCE
                    {
                        var args = Pop() as object?[] ?? throw new InvalidDataException($"{path}: REDUCE without an argument tuple");
                        var callable = Pop() as Global ?? throw new InvalidDataException($"{path}: REDUCE of something that is not a global");
                        stack.Add(Call(callable, args));
                        break;
                    }
                case 0x81:                                                      // NEWOBJ: cls.__new__(cls, *args)
                    {
                        var args = Pop() as object?[] ?? throw new InvalidDataException($"{path}: NEWOBJ without an argument tuple");
                        var cls = Pop() as Global ?? throw new InvalidDataException($"{path}: NEWOBJ of something that is not a class");
                        stack.Add(Call(cls, args));
                        break;
                    }
                case (byte)'b': Pop(); break;                                    // BUILD: state (e.g. _metadata) is not needed
                case (byte)'Q':                                                  // BINPERSID
                    stack.Add(PersistentLoad(Pop()));
                    break;
                case (byte)'0': Pop(); break;                                    // POP
                case (byte)'2': stack.Add(Top()); break;                         // DUP
                case (byte)'1': PopMark(); break;                                // POP_MARK
                default:
                    throw new InvalidDataException($"{path}: data.pkl uses pickle opcode 0x{op:x2} at byte {pos - 1}, which a state dict does not need");
            }
        }
    }

    private object? Memo(Dictionary<long, object?> memo, long index) =>
        memo.TryGetValue(index, out var value) ? value : throw new InvalidDataException($"{path}: data.pkl refers to an unknown memo entry {index}");

    private List<object?> AsList(object? value) =>
        value as List<object?> ?? throw new InvalidDataException($"{path}: data.pkl appends to a {Describe(value)}");

    private PyDict AsDict(object? value) =>
        value as PyDict ?? throw new InvalidDataException($"{path}: data.pkl sets items of a {Describe(value)}");

    private object Key(object? key) => key ?? throw new InvalidDataException($"{path}: data.pkl has a None dict key");

    private object PersistentLoad(object? pid)
    {
        // ('storage', storage_type, key, location, numel) as torch.save writes it.
        if (pid is not object?[] { Length: >= 5 } items || items[0] is not "storage")
            throw new InvalidDataException($"{path}: unknown persistent id in data.pkl");
        var storageType = items[1] as Global ?? throw new InvalidDataException($"{path}: storage without a type in data.pkl");
        string key = items[2] as string ?? throw new InvalidDataException($"{path}: storage without a key in data.pkl");
        long count = items[4] as long? ?? throw new InvalidDataException($"{path}: storage without a size in data.pkl");
        return new StorageRef(PthStateDict.DtypeOfStorage(storageType.Name), key, count);
    }

    private object? Call(Global callable, object?[] args)
    {
        switch (callable.FullName)
        {
            case "collections.OrderedDict":
                return new PyDict();
            case "torch._utils._rebuild_tensor":
            case "torch._utils._rebuild_tensor_v2":
                {
                    if (args.Length < 4 || args[0] is not StorageRef storage)
                        throw new InvalidDataException($"{path}: malformed {callable.FullName} call in data.pkl");
                    long offset = args[1] as long? ?? throw new InvalidDataException($"{path}: malformed tensor offset in data.pkl");
                    return new TensorRef(storage, offset, Longs(args[2]), Longs(args[3]));
                }
            case "torch._utils._rebuild_parameter":
            case "torch._utils._rebuild_parameter_with_state":
                // A Parameter is a tensor plus requires_grad; the tensor is all a state dict needs.
                if (args.Length < 1 || args[0] is not TensorRef tensor)
                    throw new InvalidDataException($"{path}: malformed {callable.FullName} call in data.pkl");
                return tensor;
            default:
                throw new InvalidDataException(
                    $"{path}: data.pkl constructs {callable.FullName}, which is not part of a state dict of tensors (was a whole model saved?)");
        }
    }

    private long[] Longs(object? value)
    {
        if (value is not object?[] items)
            throw new InvalidDataException($"{path}: malformed tensor size or stride in data.pkl");
        return items.Select(i => i as long? ?? throw new InvalidDataException($"{path}: malformed tensor size or stride in data.pkl")).ToArray();
    }

    private static string Describe(object? value) => value switch
    {
        null => "None",
        PyDict => "dict",
        TensorRef => "tensor",
        string => "string",
        long => "integer",
        object?[] => "tuple",
        List<object?> => "list",
        _ => value.GetType().Name,
    };
}

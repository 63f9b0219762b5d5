using System.Reflection;
using System.Runtime.CompilerServices;
using Razorvine.Pickle;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace SAMed.Checkpoints;

/// <summary>
/// Adapts TorchSharp.PyBridge's unpickler to state dicts as torch.save writes them. PyBridge 1.4.4 refuses
/// nn.Parameter (it assumes a whole model was saved) and cannot rebuild views (transposed, sliced or offset tensors
/// sharing one storage). These constructors replace its registrations: a Parameter becomes its tensor, a view is
/// read as the flat storage prefix it needs (through PyBridge's own constructor) and copied out, and every tensor
/// built on the current thread is logged, so a read can recover the file's key order that PyBridge's Hashtable loses.
/// </summary>
internal static class PyBridgeTensorConstructors
{
    private static readonly object Gate = new();
    private static bool _registered;

    [ThreadStatic]
    private static List<Tensor>? _log;

    /// <summary>Registers the constructors once, after PyBridge's own static registrations.</summary>
    public static void EnsureRegistered()
    {
        lock (Gate)
        {
            if (_registered)
                return;
            RuntimeHelpers.RunClassConstructor(typeof(PyTorchUnpickler).TypeHandle);
            // PyBridge keeps its tensor constructor private; it is the one that reads storage from the archive.
            var pyBridgeType = typeof(PyTorchUnpickler).GetNestedType("TensorObjectConstructor", BindingFlags.NonPublic)
                ?? throw new InvalidOperationException("TorchSharp.PyBridge has no TensorObjectConstructor (package version changed?)");
            var pyBridge = (IObjectConstructor)Activator.CreateInstance(pyBridgeType, nonPublic: true)!;
            var tensors = new ViewTolerantTensorConstructor(pyBridge);
            Unpickler.registerConstructor("torch._utils", "_rebuild_tensor", tensors);
            Unpickler.registerConstructor("torch._utils", "_rebuild_tensor_v2", tensors);
            Unpickler.registerConstructor("torch._utils", "_rebuild_parameter", new ParameterAsTensor());
            _registered = true;
        }
    }

    /// <summary>Starts logging the tensors built on this thread; returns the log (in construction order).</summary>
    public static List<Tensor> BeginLog() => _log = [];

    public static void EndLog() => _log = null;

    private sealed class ViewTolerantTensorConstructor(IObjectConstructor pyBridge) : IObjectConstructor
    {
        // args: (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        public object construct(object[] args)
        {
            if (args.Length > 0 && args[0] is StorageStub)
                return StorageStub.Instance;
            long offset = Convert.ToInt64(args[1]);
            long[] shape = Longs(args[2]);
            long[] stride = Longs(args[3]);
            Tensor tensor;
            if (offset == 0 && IsContiguous(shape, stride))
            {
                object built = pyBridge.construct(args);
                if (built is not Tensor whole)
                    return built;   // PyBridge's own lazy mode (skipTensorRead, as its load_py uses): left as it was
                tensor = whole;
            }
            else
            {
                long extent = shape.Contains(0) ? 0 : offset + 1 + shape.Zip(stride, (n, s) => (n - 1) * s).Sum();
                if (extent > int.MaxValue)
                    throw new NotSupportedException($"a tensor view reaching {extent} elements into its storage is too large");
                // PyBridge expects the pickle's small ints (boxed int) for offset, size and stride.
                var flatArgs = (object[])args.Clone();
                flatArgs[1] = 0;
                flatArgs[2] = new object[] { (int)extent };
                flatArgs[3] = new object[] { 1 };
                if (pyBridge.construct(flatArgs) is not Tensor flat)
                    return pyBridge.construct(args);
                using var _ = flat;
                using var view = flat.as_strided(shape, stride, offset);
                tensor = torch.empty(shape, view.dtype).copy_(view);
            }
            tensor.requires_grad = false;
            _log?.Add(tensor);
            return tensor;
        }

        private static long[] Longs(object value) =>
            value is object[] items ? items.Select(Convert.ToInt64).ToArray() : throw new InvalidCastException("tensor size or stride is not a tuple");

        private static bool IsContiguous(long[] shape, long[] stride)
        {
            long expected = 1;
            for (int i = shape.Length - 1; i >= 0; i--)
            {
                if (shape[i] != 1 && stride[i] != expected)
                    return false;
                expected *= shape[i];
            }
            return true;
        }
    }

    /// <summary>
    /// torch._utils._rebuild_parameter(data, requires_grad, backward_hooks): a Parameter is its data (a tensor, or
    /// whatever stands for one in PyBridge's lazy mode or <see cref="PickledRoot"/>'s structural pass).
    /// </summary>
    private sealed class ParameterAsTensor : IObjectConstructor
    {
        public object construct(object[] args) =>
            args.Length > 0 ? args[0] : throw new InvalidCastException("torch._utils._rebuild_parameter without arguments");
    }
}

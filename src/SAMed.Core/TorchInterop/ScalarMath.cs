using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.TorchInterop;

/// <summary>
/// Tensor-number arithmetic with explicitly disposed scalars. TorchSharp's implicit number-to-Scalar conversions
/// leave the Scalar to the garbage collector, whose finalizer may free it while libtorch still reads it.
/// </summary>
public static class ScalarMath
{
    public static Tensor Times(Tensor tensor, double value)
    {
        using var scalar = value.ToScalar();
        return tensor.mul(scalar);
    }

    public static Tensor Plus(Tensor tensor, double value)
    {
        using var scalar = value.ToScalar();
        return tensor.add(scalar);
    }

    /// <summary>value - tensor.</summary>
    public static Tensor Minus(double value, Tensor tensor)
    {
        using var scalar = value.ToScalar();
        return tensor.neg().add_(scalar);
    }

    public static Tensor Clamp(Tensor tensor, double min, double max)
    {
        using var low = min.ToScalar();
        using var high = max.ToScalar();
        return tensor.clamp(low, high);
    }
}

using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Model;

/// <summary>Small, real ONNX models for tests and examples; each returns a builder so callers can add metadata before building.</summary>
public static class SampleModels
{
    /// <summary>Symbolic name of the leading (batch) dimension in every sample model.</summary>
    public const string Batch = "batch";

    /// <summary>
    /// A two-layer perceptron: input "input" FLOAT [batch, in] → Gemm(w1, b1) → Relu → Gemm(w2, b2) → Softmax(axis -1)
    /// → output "probabilities" FLOAT [batch, out]; with <paramref name="softmax"/> false the output is "logits".
    /// </summary>
    /// <param name="w1">First-layer weights, [in, hidden] (multiplied as input × w1).</param>
    /// <param name="b1">First-layer bias, [hidden].</param>
    /// <param name="w2">Second-layer weights, [hidden, out].</param>
    /// <param name="b2">Second-layer bias, [out].</param>
    /// <param name="softmax">Whether to end with a softmax over the last axis.</param>
    public static ModelBuilder Mlp(float[,] w1, float[] b1, float[,] w2, float[] b2, bool softmax = true)
    {
        int inputs = w1.GetLength(0), hidden = w1.GetLength(1), outputs = w2.GetLength(1);
        if (b1.Length != hidden || w2.GetLength(0) != hidden || b2.Length != outputs)
        {
            throw new ArgumentException(
                $"Layer shapes disagree: w1 [{inputs}, {hidden}], b1 [{b1.Length}], w2 [{w2.GetLength(0)}, {outputs}], b2 [{b2.Length}].");
        }

        var output = softmax ? "probabilities" : "logits";
        var builder = new ModelBuilder("mlp")
            .GraphDocString($"{inputs} → {hidden} ReLU → {outputs}{(softmax ? " softmax" : " logits")}")
            .Input("input", TensorElementType.Float, Batch, inputs)
            .Initializer("w1", w1)
            .Initializer("b1", b1)
            .Initializer("w2", w2)
            .Initializer("b2", b2)
            .Node("Gemm", ["input", "w1", "b1"], ["hidden_linear"], OnnxAttribute.Int("transB", 0))
            .Node("Relu", ["hidden_linear"], ["hidden"])
            .Node("Gemm", ["hidden", "w2", "b2"], [softmax ? "logits" : output], OnnxAttribute.Int("transB", 0));
        if (softmax)
        {
            builder.Node("Softmax", ["logits"], [output], OnnxAttribute.Int("axis", -1));
        }

        return builder.Output(output, TensorElementType.Float, Batch, outputs);
    }

    /// <summary>
    /// A transformer-style encoder block and classifier: input "input" FLOAT [batch, seq, width] → single-head
    /// self-attention (Q, K, V and output projections, Softmax over Q·Kᵀ / √width) with a residual and
    /// LayerNormalization → a ReLU feed-forward layer of 4 × width with a residual → mean over the sequence → Gemm
    /// → output "logits" FLOAT [batch, classes].
    /// </summary>
    public static ModelBuilder TransformerBlock(int seq, TransformerWeights weights)
    {
        int width = weights.Width;
        return new ModelBuilder("transformer_block")
            .Input("input", TensorElementType.Float, Batch, seq, width)
            .Initializer("wq", weights.Query)
            .Initializer("wk", weights.Key)
            .Initializer("wv", weights.Value)
            .Initializer("wo", weights.Output)
            .Initializer("w_ff1", weights.FeedForward1)
            .Initializer("b_ff1", weights.FeedForwardBias1)
            .Initializer("w_ff2", weights.FeedForward2)
            .Initializer("b_ff2", weights.FeedForwardBias2)
            .Initializer("w_cls", weights.Classifier)
            .Initializer("b_cls", weights.ClassifierBias)
            .Initializer("gamma", Enumerable.Repeat(1f, width).ToArray())
            .Initializer("beta", new float[width])
            .ScalarInitializer("inverse_sqrt_width", 1f / MathF.Sqrt(width))
            .Node("MatMul", ["input", "wq"], ["q"])
            .Node("MatMul", ["input", "wk"], ["k"])
            .Node("MatMul", ["input", "wv"], ["v"])
            .Node("Transpose", ["k"], ["k_t"], OnnxAttribute.Ints("perm", 0, 2, 1))
            .Node("MatMul", ["q", "k_t"], ["scores"])
            .Node("Mul", ["scores", "inverse_sqrt_width"], ["scaled"])
            .Node("Softmax", ["scaled"], ["attention"], OnnxAttribute.Int("axis", -1))
            .Node("MatMul", ["attention", "v"], ["context"])
            .Node("MatMul", ["context", "wo"], ["projected"])
            .Node("Add", ["input", "projected"], ["residual"])
            .Node("LayerNormalization", ["residual", "gamma", "beta"], ["normalized"], OnnxAttribute.Int("axis", -1))
            .Node("MatMul", ["normalized", "w_ff1"], ["ff_linear"])
            .Node("Add", ["ff_linear", "b_ff1"], ["ff_biased"])
            .Node("Relu", ["ff_biased"], ["ff_hidden"])
            .Node("MatMul", ["ff_hidden", "w_ff2"], ["ff_out"])
            .Node("Add", ["ff_out", "b_ff2"], ["ff_biased_out"])
            .Node("Add", ["normalized", "ff_biased_out"], ["block"])
            .Node("ReduceMean", ["block"], ["pooled"], OnnxAttribute.Ints("axes", 1), OnnxAttribute.Int("keepdims", 0))
            .Node("Gemm", ["pooled", "w_cls", "b_cls"], ["logits"])
            .Output("logits", TensorElementType.Float, Batch, weights.Classes);
    }

    /// <summary>
    /// Input "input" → Identity → output "output", both of <paramref name="type"/> (any type, String, Bool, Float16
    /// and BFloat16 included) and shape <paramref name="dims"/>, which defaults to ["batch"].
    /// </summary>
    public static ModelBuilder Identity(TensorElementType type, params Dim[] dims)
    {
        Dim[] shape = dims.Length == 0 ? [Batch] : dims;
        return new ModelBuilder($"identity_{type.ToString().ToLowerInvariant()}")
            .Input("input", type, shape)
            .Node("Identity", ["input"], ["output"])
            .Output("output", type, shape);
    }

    /// <summary>
    /// Three inputs, four outputs, mixed types, all [batch, 3]: inputs "a" and "b" INT64, "flag" BOOL;
    /// outputs "sum" = a + b (INT64), "product" = a × b (INT64), "selected" = flag ? a : b (INT64, Where),
    /// and "any_true" = flag OR flag, i.e. a copy of flag computed by a node (BOOL).
    /// </summary>
    public static ModelBuilder MultiInputOutput()
    {
        Dim[] shape = [Batch, 3];
        return new ModelBuilder("multi_input_output")
            .Input("a", TensorElementType.Int64, shape)
            .Input("b", TensorElementType.Int64, shape)
            .Input("flag", TensorElementType.Bool, shape)
            .Node("Add", ["a", "b"], ["sum"])
            .Node("Mul", ["a", "b"], ["product"])
            .Node("Where", ["flag", "a", "b"], ["selected"])
            .Node("Or", ["flag", "flag"], ["any_true"])
            .Output("sum", TensorElementType.Int64, shape)
            .Output("product", TensorElementType.Int64, shape)
            .Output("selected", TensorElementType.Int64, shape)
            .Output("any_true", TensorElementType.Bool, shape);
    }

    /// <summary>Input "text" STRING [batch] → Identity → output "text_out" STRING [batch] (BYTES in the serving protocol).</summary>
    public static ModelBuilder StringIdentity() =>
        new ModelBuilder("string_identity")
            .Input("text", TensorElementType.String, Batch)
            .Node("Identity", ["text"], ["text_out"])
            .Output("text_out", TensorElementType.String, Batch);

    /// <summary>
    /// Computes in half precision: input "input" FLOAT16 [batch, n] → Mul by "scale" [n] → Add "bias" [n]
    /// → output "output" FLOAT16 [batch, n], where n is the length of <paramref name="scale"/>.
    /// </summary>
    public static ModelBuilder Fp16Scale(Half[] scale, Half[] bias)
    {
        if (scale.Length == 0 || scale.Length != bias.Length)
        {
            throw new ArgumentException($"scale ({scale.Length}) and bias ({bias.Length}) must have the same, non-zero length.");
        }

        return new ModelBuilder("fp16_scale")
            .Input("input", TensorElementType.Float16, Batch, scale.Length)
            .Initializer("scale", scale)
            .Initializer("bias", bias)
            .Node("Mul", ["input", "scale"], ["scaled"])
            .Node("Add", ["scaled", "bias"], ["output"])
            .Output("output", TensorElementType.Float16, Batch, scale.Length);
    }

    /// <summary>
    /// Input "input" → Add a scalar constant "addend" → output "output", of a numeric <paramref name="type"/>
    /// (not String or Bool) and shape <paramref name="dims"/>, which defaults to ["batch"].
    /// ONNX Runtime's CPU provider has no BFloat16 Add, so that variant loads only where a provider has one.
    /// </summary>
    /// <param name="type">The element type of input, constant and output.</param>
    /// <param name="value">The constant, converted to <paramref name="type"/> (truncated for integers).</param>
    /// <param name="dims">The declared input and output shape.</param>
    public static ModelBuilder AddConstant(TensorElementType type, double value, params Dim[] dims)
    {
        Dim[] shape = dims.Length == 0 ? [Batch] : dims;
        return new ModelBuilder($"add_constant_{type.ToString().ToLowerInvariant()}")
            .Input("input", type, shape)
            .Initializer(Scalar("addend", type, value))
            .Node("Add", ["input", "addend"], ["output"])
            .Output("output", type, shape);
    }

    private static TensorProto Scalar(string name, TensorElementType type, double value) => type switch
    {
        TensorElementType.Float => OnnxTensors.Create<float>(name, [(float)value], []),
        TensorElementType.Double => OnnxTensors.Create<double>(name, [value], []),
        TensorElementType.Float16 => OnnxTensors.Create<Half>(name, [(Half)value], []),
        TensorElementType.BFloat16 => OnnxTensors.CreateBFloat16(name, [(float)value], []),
        TensorElementType.Int8 => OnnxTensors.Create<sbyte>(name, [(sbyte)value], []),
        TensorElementType.UInt8 => OnnxTensors.Create<byte>(name, [(byte)value], []),
        TensorElementType.Int16 => OnnxTensors.Create<short>(name, [(short)value], []),
        TensorElementType.UInt16 => OnnxTensors.Create<ushort>(name, [(ushort)value], []),
        TensorElementType.Int32 => OnnxTensors.Create<int>(name, [(int)value], []),
        TensorElementType.UInt32 => OnnxTensors.Create<uint>(name, [(uint)value], []),
        TensorElementType.Int64 => OnnxTensors.Create<long>(name, [(long)value], []),
        TensorElementType.UInt64 => OnnxTensors.Create<ulong>(name, [(ulong)value], []),
        _ => throw new ArgumentException($"Add is not defined for {type}.", nameof(type)),
    };
}

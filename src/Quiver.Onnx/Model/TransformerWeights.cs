namespace Quiver.Onnx.Model;

/// <summary>
/// The weights of <see cref="SampleModels.TransformerBlock"/>: matrices are [rows, columns], multiplied as
/// activations × matrix. Query, Key, Value and Output are [width, width], FeedForward1 [width, 4 × width],
/// FeedForward2 [4 × width, width], Classifier [width, classes].
/// </summary>
public sealed record TransformerWeights(
    float[,] Query, float[,] Key, float[,] Value, float[,] Output,
    float[,] FeedForward1, float[] FeedForwardBias1, float[,] FeedForward2, float[] FeedForwardBias2,
    float[,] Classifier, float[] ClassifierBias)
{
    /// <summary>The model width (the last dimension of the input).</summary>
    public int Width => Query.GetLength(0);

    /// <summary>The number of classes (the last dimension of the logits).</summary>
    public int Classes => Classifier.GetLength(1);

    /// <summary>Weights from <paramref name="matrix"/> and <paramref name="vector"/>, called in a fixed order: query, key, value, output, feed-forward 1 and its bias, feed-forward 2 and its bias, classifier and its bias.</summary>
    public static TransformerWeights Create(int width, int classes, Func<int, int, float[,]> matrix, Func<int, float[]> vector)
    {
        int ff = 4 * width;
        return new TransformerWeights(
            matrix(width, width), matrix(width, width), matrix(width, width), matrix(width, width),
            matrix(width, ff), vector(ff), matrix(ff, width), vector(width),
            matrix(width, classes), vector(classes));
    }
}

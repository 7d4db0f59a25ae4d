using System.Globalization;
using System.Text;
using Quiver.Core.Text;

namespace Quiver.Core.Tests.Text;

/// <summary>.NET's own float formatting is the oracle: every case compares ShortestFloat with float.TryFormat.</summary>
public sealed class ShortestFloatTests
{
    public static TheoryData<float, string> Examples => new()
    {
        { 0f, "0" },
        { -0f, "-0" },
        { 0.1f, "0.1" },
        { 1f / 3, "0.33333334" },
        { 0.0001f, "0.0001" },
        { 0.00012345678f, "0.00012345678" },
        { 9.9999e-5f, "9.9999E-05" },
        { 1e-5f, "1E-05" },
        { 123456790f, "123456790" },
        { 999999940f, "999999940" },
        { 1e9f, "1E+09" },
        { 1e10f, "1E+10" },
        { -2.5e12f, "-2.5E+12" },
        { 5.34767E-18f, "5.34767E-18" },
        { float.MaxValue, "3.4028235E+38" },
        { float.MinValue, "-3.4028235E+38" },
        { float.Epsilon, "1E-45" },
        { 1.17549435E-38f, "1.1754944E-38" },
    };

    [Theory]
    [MemberData(nameof(Examples))]
    public void Format_Example_IsDotNetsText(float value, string expected)
    {
        AssertSameAsDotNet(value);
        Assert.Equal(expected, Format(value));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Format_NotFinite_Throws(float value)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ShortestFloat.Format(value, new byte[ShortestFloat.MaxLength]));
    }

    [Fact]
    public void Format_ShortDestination_Throws()
    {
        Assert.Throws<ArgumentException>(() => ShortestFloat.Format(1f, new byte[ShortestFloat.MaxLength - 1]));
    }

    [Fact]
    public void Format_SubnormalAndNormalLimits_AreDotNetsText()
    {
        uint[] patterns = [0x0000_0001, 0x0000_0002, 0x0000_0003, 0x007F_FFFF, 0x007F_FFFE, 0x0080_0000, 0x0080_0001, 0x7F7F_FFFF, 0x7F7F_FFFE, 0x7F00_0000];
        foreach (uint pattern in patterns)
        {
            AssertSameAsDotNetWithSign(BitConverter.UInt32BitsToSingle(pattern));
        }
    }

    [Fact]
    public void Format_PowersOfTenAndNeighbours_AreDotNetsText()
    {
        for (int exponent = -45; exponent <= 38; exponent++)
        {
            float power = float.Parse($"1E{exponent}", CultureInfo.InvariantCulture);
            float next = MathF.BitIncrement(power), previous = MathF.BitDecrement(power);
            foreach (float value in new[] { power, next, previous, MathF.BitIncrement(next), MathF.BitDecrement(previous) })
            {
                AssertSameAsDotNetWithSign(value);
            }
        }
    }

    [Fact]
    public void Format_EveryPowerOfTwoAndNeighbours_AreDotNetsText()
    {
        for (int exponent = -149; exponent <= 127; exponent++)
        {
            float power = MathF.ScaleB(1f, exponent);
            AssertSameAsDotNetWithSign(power);
            AssertSameAsDotNetWithSign(MathF.BitIncrement(power));
            AssertSameAsDotNetWithSign(MathF.BitDecrement(power));
        }
    }

    [Fact]
    public void Format_IntegersAroundTheNotationSwitch_AreDotNetsText()
    {
        // Floats are exact integers to 2^24 only, so around 1E8 and 1E9 these are several integers apart.
        foreach (int centre in new[] { 10_000_000, 16_777_216, 100_000_000, 999_999_999, 1_000_000_000 })
        {
            for (int offset = -300; offset <= 300; offset++)
            {
                AssertSameAsDotNetWithSign(centre + offset);
            }
        }
    }

    [Fact]
    public void Format_ValuesAroundTheNotationSwitch_AreDotNetsText()
    {
        // Plain notation runs from 1E-04 up to below 1E+09; walk a thousand floats either side of both ends.
        foreach (float edge in new[] { 1e-4f, 1e9f })
        {
            float below = edge, above = edge;
            for (int step = 0; step < 1000; step++)
            {
                AssertSameAsDotNetWithSign(below = MathF.BitDecrement(below));
                AssertSameAsDotNetWithSign(above = MathF.BitIncrement(above));
            }
        }
    }

    [Fact]
    public void Format_RandomBitPatterns_AreDotNetsText()
    {
        var random = new Random(20_240_601);
        for (int i = 0; i < 2_000_000; i++)
        {
            float value = BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32));
            if (float.IsFinite(value))
            {
                AssertSameAsDotNet(value);
            }
        }
    }

    [Fact]
    public void Format_OneBinaryExponentWalkedWithAStride_IsDotNetsText()
    {
        // [1, 2) holds 2^23 floats; a stride of 5 visits 1.7 million of them, odd and even mantissas alike.
        for (uint pattern = 0x3F80_0000; pattern < 0x4000_0000; pattern += 5)
        {
            AssertSameAsDotNet(BitConverter.UInt32BitsToSingle(pattern));
        }
    }

    private static void AssertSameAsDotNetWithSign(float value)
    {
        AssertSameAsDotNet(value);
        AssertSameAsDotNet(-value);
    }

    private static void AssertSameAsDotNet(float value)
    {
        Span<byte> ours = stackalloc byte[ShortestFloat.MaxLength];
        Span<byte> expected = stackalloc byte[32];
        int length = ShortestFloat.Format(value, ours);
        Assert.True(value.TryFormat(expected, out int expectedLength, default, CultureInfo.InvariantCulture));
        if (!ours[..length].SequenceEqual(expected[..expectedLength]))
        {
            Assert.Fail($"0x{BitConverter.SingleToUInt32Bits(value):X8}: ours \"{Encoding.UTF8.GetString(ours[..length])}\", .NET \"{Encoding.UTF8.GetString(expected[..expectedLength])}\"");
        }
    }

    private static string Format(float value)
    {
        Span<byte> buffer = stackalloc byte[ShortestFloat.MaxLength];
        return Encoding.UTF8.GetString(buffer[..ShortestFloat.Format(value, buffer)]);
    }
}

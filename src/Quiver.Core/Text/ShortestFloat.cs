using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Quiver.Core.Text;

/// <summary>
/// Writes a finite <see cref="float"/> as UTF-8 text, byte for byte as
/// <c>float.TryFormat(utf8, out _, default, CultureInfo.InvariantCulture)</c> does, in about half the time (bench/float-format).
/// </summary>
/// <remarks>
/// The digits are the shortest that read back as the same float, the one nearest the exact value when several are
/// as short, found with Ryu's algorithm for binary32 (Ulf Adams, "Ryū: fast float-to-string conversion", PLDI 2018)
/// in exact integer arithmetic. The layout is .NET's: plain notation while the
/// decimal exponent of the first digit is from -4 to 8 ("0.0001", "123456790"), otherwise "d.dddE+XX" with a sign
/// and at least two exponent digits ("1E+09", "1E-05", "1E-45"); negative zero is "-0".
/// </remarks>
public static class ShortestFloat
{
    /// <summary>The most bytes <see cref="Format"/> writes, e.g. "-0.000123456789" or "-1.23456789E-38".</summary>
    public const int MaxLength = 15;

    private const int MantissaBits = 23;
    private const int ExponentBias = 127;
    private const int InverseFactorBits = 59; // Ryu's precision for 2^k / 5^q
    private const int FactorBits = 61; // and for 5^i / 2^k
    private const int LowestPlainExponent = -4;
    private const int HighestPlainExponent = 8;

    // Indexed by q = floor(e2 × log10(2)) ≤ 30 (e2 ≤ 102), and by i = -e2 - q ≤ 46 plus one for the digit below.
    private static readonly ulong[] s_inverseFactors = InverseFactors(31);
    private static readonly ulong[] s_factors = Factors(48);
    private static readonly byte[] s_digitPairs = DigitPairs();
    private static readonly uint[] s_powersOf10 = PowersOf10();

    /// <summary>Writes <paramref name="value"/> and returns the number of bytes written.</summary>
    /// <param name="value">A finite float.</param>
    /// <param name="destination">At least <see cref="MaxLength"/> bytes.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is NaN or an infinity.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="MaxLength"/>.</exception>
    public static int Format(float value, Span<byte> destination)
    {
        if (!float.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "Only finite floats have a shortest decimal form.");
        }

        if (destination.Length < MaxLength)
        {
            throw new ArgumentException($"The destination needs {MaxLength} bytes.", nameof(destination));
        }

        uint bits = BitConverter.SingleToUInt32Bits(value);
        int position = 0;
        if ((int)bits < 0)
        {
            destination[position++] = (byte)'-';
        }

        uint magnitude = bits & 0x7FFF_FFFF;
        if (magnitude == 0)
        {
            destination[position] = (byte)'0';
            return position + 1;
        }

        (uint digits, int exponent) = ShortestDigits(magnitude);
        return position + Layout(digits, exponent, destination[position..]);
    }

    /// <summary>The shortest decimal <c>digits × 10^exponent</c> that reads back as the float with these bits.</summary>
    private static (uint Digits, int Exponent) ShortestDigits(uint magnitude)
    {
        uint mantissa = magnitude & ((1u << MantissaBits) - 1);
        int biasedExponent = (int)(magnitude >> MantissaBits);

        // Subnormals have exponent field 0 but the same scale as field 1; the extra 2 bits hold the half-way bounds.
        int e2 = (biasedExponent == 0 ? 1 : biasedExponent) - ExponentBias - MantissaBits - 2;
        uint m2 = biasedExponent == 0 ? mantissa : mantissa | (1u << MantissaBits);

        // Round-to-even on reading: an even mantissa owns the values exactly half-way to its neighbours.
        bool acceptBounds = (m2 & 1) == 0;
        uint mv = 4 * m2;
        uint mp = mv + 2;

        // At a power of two the float below is nearer than the one above, so the lower bound is half as far.
        uint lowerGapIsNarrow = mantissa != 0 || biasedExponent <= 1 ? 1u : 0u;
        uint mm = mv - 1 - lowerGapIsNarrow;

        var interval = e2 >= 0
            ? ScaleDown(mv, mp, mm, e2, acceptBounds)
            : ScaleUp(mv, mp, mm, e2, acceptBounds, lowerGapIsNarrow == 1);
        return interval.Shorten(acceptBounds);
    }

    /// <summary>The interval divided by 10^q for a binary exponent e2 ≥ 0: multiplied by 2^e2 / 10^q ≤ 1.</summary>
    private static Interval ScaleDown(uint mv, uint mp, uint mm, int e2, bool acceptBounds)
    {
        int q = Log10Pow2(e2);
        int shift = -e2 + q + Pow5Bits(q) - 1 + InverseFactorBits;
        ulong factor = s_inverseFactors[q];
        var interval = new Interval
        {
            Vr = MulShift(mv, factor, shift),
            Vp = MulShift(mp, factor, shift),
            Vm = MulShift(mm, factor, shift),
            Exponent = q,
        };

        if (q != 0 && (interval.Vp - 1) / 10 <= interval.Vm / 10)
        {
            // The loop in Shorten may not remove a digit, so compute the digit just below vr's last one here.
            int previousShift = -e2 + q - 1 + Pow5Bits(q - 1) - 1 + InverseFactorBits;
            interval.LastRemovedDigit = MulShift(mv, s_inverseFactors[q - 1], previousShift) % 10;
        }

        // Only for small q can 10^q divide the scaled values exactly; then the digits removed so far were zeros.
        if (q <= 9)
        {
            if (mv % 5 == 0)
            {
                interval.VrIsTrailingZeros = IsMultipleOfPowerOf5(mv, q);
            }
            else if (acceptBounds)
            {
                interval.VmIsTrailingZeros = IsMultipleOfPowerOf5(mm, q);
            }
            else if (IsMultipleOfPowerOf5(mp, q))
            {
                interval.Vp--; // the upper bound itself is excluded
            }
        }

        return interval;
    }

    /// <summary>The interval divided by 10^q for a binary exponent e2 &lt; 0: multiplied by 5^-e2 / 10^q.</summary>
    private static Interval ScaleUp(uint mv, uint mp, uint mm, int e2, bool acceptBounds, bool lowerGapIsNarrow)
    {
        int q = Log10Pow5(-e2);
        int i = -e2 - q;
        int shift = q - (Pow5Bits(i) - FactorBits);
        ulong factor = s_factors[i];
        var interval = new Interval
        {
            Vr = MulShift(mv, factor, shift),
            Vp = MulShift(mp, factor, shift),
            Vm = MulShift(mm, factor, shift),
            Exponent = q + e2,
        };

        if (q != 0 && (interval.Vp - 1) / 10 <= interval.Vm / 10)
        {
            int previousShift = q - 1 - (Pow5Bits(i + 1) - FactorBits);
            interval.LastRemovedDigit = MulShift(mv, s_factors[i + 1], previousShift) % 10;
        }

        // 10^q = 2^q × 5^q and the factor holds the 5s: the removed digits were zeros when 2^q divides mv
        // (2^(q-1) here, the last removed digit being checked on its own).
        if (q <= 1)
        {
            interval.VrIsTrailingZeros = true; // mv has at least two factors of 2
            if (acceptBounds)
            {
                interval.VmIsTrailingZeros = lowerGapIsNarrow; // mm = mv - 2 is even, mv - 1 is not
            }
            else
            {
                interval.Vp--; // mp is even too, and excluded
            }
        }
        else if (q < 31)
        {
            interval.VrIsTrailingZeros = IsMultipleOfPowerOf2(mv, q - 1);
        }

        return interval;
    }

    /// <summary>The value (vr), its rounding bounds (vm, vp) and the facts Ryu needs to round, in units of 10^Exponent.</summary>
    private struct Interval
    {
        public uint Vr;
        public uint Vp;
        public uint Vm;
        public int Exponent;
        public uint LastRemovedDigit;
        public bool VrIsTrailingZeros;
        public bool VmIsTrailingZeros;

        /// <summary>Drops digits while the interval still holds a shorter number, then rounds vr to nearest.</summary>
        public readonly (uint Digits, int Exponent) Shorten(bool acceptBounds)
        {
            uint vr = Vr, vp = Vp, vm = Vm, lastRemovedDigit = LastRemovedDigit;
            int removed = 0;
            bool vrIsTrailingZeros = VrIsTrailingZeros, vmIsTrailingZeros = VmIsTrailingZeros;
            if (!vrIsTrailingZeros && !vmIsTrailingZeros)
            {
                // The common case: no exact ties, so no bookkeeping of the removed digits beyond the last.
                while (vp / 10 > vm / 10)
                {
                    lastRemovedDigit = vr % 10;
                    vr /= 10;
                    vp /= 10;
                    vm /= 10;
                    removed++;
                }

                bool roundUp = (vr == vm) | (lastRemovedDigit >= 5); // no short circuit: one less unpredictable branch
                return (vr + (roundUp ? 1u : 0u), Exponent + removed);
            }

            while (vp / 10 > vm / 10)
            {
                vmIsTrailingZeros &= vm % 10 == 0;
                vrIsTrailingZeros &= lastRemovedDigit == 0;
                lastRemovedDigit = vr % 10;
                vr /= 10;
                vp /= 10;
                vm /= 10;
                removed++;
            }

            if (vmIsTrailingZeros)
            {
                // The lower bound is exact and included: it may still allow shorter numbers ending in zeros.
                while (vm % 10 == 0)
                {
                    vrIsTrailingZeros &= lastRemovedDigit == 0;
                    lastRemovedDigit = vr % 10;
                    vr /= 10;
                    vp /= 10;
                    vm /= 10;
                    removed++;
                }
            }

            if (vrIsTrailingZeros && lastRemovedDigit == 5 && vr % 2 == 0)
            {
                lastRemovedDigit = 4; // exactly half-way: round to even
            }

            bool vrIsExcludedBound = vr == vm && (!acceptBounds || !vmIsTrailingZeros);
            return (vr + (vrIsExcludedBound || lastRemovedDigit >= 5 ? 1u : 0u), Exponent + removed);
        }
    }

    /// <summary>Lays out <c>digits × 10^exponent</c> the way .NET's shortest float text does.</summary>
    private static int Layout(uint digits, int exponent, Span<byte> destination)
    {
        int length = DecimalLength(digits);
        int leadExponent = exponent + length - 1; // the decimal exponent of the first digit
        if (leadExponent < LowestPlainExponent || leadExponent > HighestPlainExponent)
        {
            return Scientific(digits, length, leadExponent, destination);
        }

        if (exponent >= 0)
        {
            // An integer: the digits, then the zeros Ryu removed ("100000000").
            WriteDigits(digits, destination[..length]);
            destination.Slice(length, exponent).Fill((byte)'0');
            return length + exponent;
        }

        if (leadExponent >= 0)
        {
            // The point falls among the digits: write them one place on, then move the integer part back over it.
            int integerLength = leadExponent + 1;
            WriteDigits(digits, destination.Slice(1, length));
            for (int i = 0; i < integerLength; i++)
            {
                destination[i] = destination[i + 1]; // a byte or two: cheaper than a memmove call
            }

            destination[integerLength] = (byte)'.';
            return length + 1;
        }

        // Below one: "0.", the zeros after the point, then the digits ("0.00012").
        int zeros = -leadExponent - 1;
        destination[0] = (byte)'0';
        destination[1] = (byte)'.';
        destination.Slice(2, zeros).Fill((byte)'0');
        WriteDigits(digits, destination.Slice(2 + zeros, length));
        return 2 + zeros + length;
    }

    /// <summary>Writes "d.dddE+XX": a point only after a first digit that has others behind it, two exponent digits.</summary>
    private static int Scientific(uint digits, int length, int leadExponent, Span<byte> destination)
    {
        WriteDigits(digits, destination.Slice(1, length));
        destination[0] = destination[1];
        int position = 1;
        if (length > 1)
        {
            destination[1] = (byte)'.';
            position = length + 1;
        }

        destination[position] = (byte)'E';
        destination[position + 1] = leadExponent < 0 ? (byte)'-' : (byte)'+';

        // A float's decimal exponent lies within -45..38, so two digits always suffice.
        WriteDigits((uint)Math.Abs(leadExponent), destination.Slice(position + 2, 2));
        return position + 4;
    }

    /// <summary>Writes <paramref name="value"/> as exactly <c>destination.Length</c> digits, two at a time from the right.</summary>
    private static void WriteDigits(uint value, Span<byte> destination)
    {
        // Callers size the span to the digits, so the checks of each store are redundant: one check, then raw stores.
        ref byte start = ref MemoryMarshal.GetReference(destination);
        ref byte pairs = ref MemoryMarshal.GetArrayDataReference(s_digitPairs);
        int position = destination.Length;
        while (position >= 2)
        {
            uint pair = value % 100;
            value /= 100;
            position -= 2;
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref start, position), Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref pairs, 2 * pair)));
        }

        if (position == 1)
        {
            start = (byte)('0' + value);
        }
    }

    /// <summary>The number of decimal digits of a Ryu result, which is below 10^9.</summary>
    private static int DecimalLength(uint value)
    {
        // From the bit length without branches: mispredicted compares cost more than the multiply.
        int guess = ((BitOperations.Log2(value) + 1) * 1233) >> 12; // floor(bits × log10(2)), off by at most one below
        return guess + (value >= s_powersOf10[guess] ? 1 : 0);
    }

    /// <summary>(m × factor) &gt;&gt; shift without losing the 96-bit product's high bits; shift is above 32.</summary>
    private static uint MulShift(uint m, ulong factor, int shift)
    {
        ulong low = (ulong)m * (uint)factor;
        ulong high = (ulong)m * (factor >> 32);
        return (uint)(((low >> 32) + high) >> (shift - 32));
    }

    /// <summary>floor(e × log10(2)), exact for 0 ≤ e ≤ 1650.</summary>
    private static int Log10Pow2(int e) => (int)(((uint)e * 78913) >> 18);

    /// <summary>floor(e × log10(5)), exact for 0 ≤ e ≤ 2620.</summary>
    private static int Log10Pow5(int e) => (int)(((uint)e * 732923) >> 20);

    /// <summary>The bit length of 5^e (1 for e = 0), exact for 0 ≤ e ≤ 3528.</summary>
    private static int Pow5Bits(int e) => (int)(((uint)e * 1217359) >> 19) + 1;

    private static bool IsMultipleOfPowerOf5(uint value, int p)
    {
        int count = 0;
        while (value != 0 && value % 5 == 0)
        {
            value /= 5;
            count++;
        }

        return count >= p;
    }

    private static bool IsMultipleOfPowerOf2(uint value, int p) => (value & ((1u << p) - 1)) == 0;

    /// <summary>floor(2^(bits(5^q) - 1 + 59) / 5^q) + 1: dividing by 5^q becomes a multiply and a shift.</summary>
    private static ulong[] InverseFactors(int count)
    {
        var factors = new ulong[count];
        for (int q = 0; q < count; q++)
        {
            BigInteger pow5 = BigInteger.Pow(5, q);
            BigInteger scaled = BigInteger.One << (Pow5Bits(q) - 1 + InverseFactorBits);
            factors[q] = (ulong)((scaled / pow5) + 1);
        }

        return factors;
    }

    /// <summary>5^i kept to its top 61 bits: floor(5^i / 2^(bits(5^i) - 61)).</summary>
    private static ulong[] Factors(int count)
    {
        var factors = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            BigInteger pow5 = BigInteger.Pow(5, i);
            int shift = Pow5Bits(i) - FactorBits;
            factors[i] = (ulong)(shift >= 0 ? pow5 >> shift : pow5 << -shift);
        }

        return factors;
    }

    /// <summary>10^0 … 10^9, the bounds of each digit count.</summary>
    private static uint[] PowersOf10()
    {
        var powers = new uint[10];
        powers[0] = 1;
        for (int i = 1; i < powers.Length; i++)
        {
            powers[i] = powers[i - 1] * 10;
        }

        return powers;
    }

    /// <summary>"00", "01", … "99" back to back, for writing two digits per division.</summary>
    private static byte[] DigitPairs()
    {
        var pairs = new byte[200];
        for (int i = 0; i < 100; i++)
        {
            pairs[2 * i] = (byte)('0' + (i / 10));
            pairs[(2 * i) + 1] = (byte)('0' + (i % 10));
        }

        return pairs;
    }
}

using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using SemEdge.Tests.Imaging;
using SemEdge.Toolchain.Datasets;
using SemEdge.Toolchain;
using SkiaSharp;

namespace SemEdge.Tests.Toolchain.Datasets;

public class PreprocessJobTests
{
    [Fact]
    public void Writes_the_daemons_tensors_as_npy_in_list_order_and_lists_refused_files()
    {
        using var dir = new TempFolder();
        var white = dir.Combine("white.png");
        var ramp = dir.Combine("ramp.png");
        var broken = dir.Combine("broken.png");
        var whitePixels = Enumerable.Repeat((byte)255, 64 * 48).ToArray();
        File.WriteAllBytes(white, TestImages.EncodeSkia(whitePixels, 64, 48, SKEncodedImageFormat.Png));
        // Columns 0..7 at grey 0, 32, ..., 224: after an 8 -> 4 area resize each output column averages two.
        var rampPixels = Enumerable.Range(0, 8 * 8).Select(i => (byte)((i % 8) * 32)).ToArray();
        File.WriteAllBytes(ramp, TestImages.EncodeSkia(rampPixels, 8, 8, SKEncodedImageFormat.Png));
        File.WriteAllBytes(broken, [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0]);
        var list = dir.Combine("files.txt");
        File.WriteAllLines(list, [white, broken, ramp]);
        var stderr = new StringWriter();

        var code = PreprocessJob.Run(new PreprocessRequest(list, dir.Combine("out"), 4, 2), TextWriter.Null, stderr, CancellationToken.None);

        Assert.Equal(JobOutcome.Succeeded, code);
        var npy = File.ReadAllBytes(dir.Combine("out.npy"));
        Assert.Equal(0x93, npy[0]);
        Assert.Equal("NUMPY", Encoding.ASCII.GetString(npy, 1, 5));
        var headerLength = BinaryPrimitives.ReadUInt16LittleEndian(npy.AsSpan(8));
        var header = Encoding.ASCII.GetString(npy, 10, headerLength);
        Assert.Equal(0, (10 + headerLength) % 64);
        Assert.Contains("'shape': (2, 4, 4)", header);
        Assert.Contains("'descr': '<f4'", header);
        var values = new float[2 * 16];
        Buffer.BlockCopy(npy, 10 + headerLength, values, 0, values.Length * 4);
        Assert.All(values[..16], v => Assert.Equal(1f, v, 1e-6f));
        Assert.Equal((0 + 32) / 2f / 255f, values[16], 1e-6f);
        Assert.Equal((192 + 224) / 2f / 255f, values[19], 1e-6f);

        using var index = JsonDocument.Parse(File.ReadAllText(dir.Combine("out.json")));
        var root = index.RootElement;
        Assert.Equal([white, ramp], root.GetProperty("files").EnumerateArray().Select(f => f.GetString()!));
        Assert.Equal(64, root.GetProperty("originalSizes")[0][0].GetInt32());
        Assert.Equal(48, root.GetProperty("originalSizes")[0][1].GetInt32());
        Assert.Equal("black", root.GetProperty("background").GetString());
        var rejected = Assert.Single(root.GetProperty("rejected").EnumerateArray());
        Assert.Equal(broken, rejected.GetProperty("file").GetString());
        Assert.Contains("broken.png", stderr.ToString());
    }

    [Fact]
    public void A_missing_list_or_a_bad_size_is_a_usage_error()
    {
        using var dir = new TempFolder();
        Assert.Throws<JobInputException>(() => PreprocessJob.Run(new PreprocessRequest(dir.Combine("none.txt"), dir.Combine("o"), 128, 1),
            TextWriter.Null, TextWriter.Null, CancellationToken.None));
        File.WriteAllText(dir.Combine("l.txt"), "");
        Assert.Throws<JobInputException>(() => PreprocessJob.Run(new PreprocessRequest(dir.Combine("l.txt"), dir.Combine("o"), 4096, 1),
            TextWriter.Null, TextWriter.Null, CancellationToken.None));
    }
}

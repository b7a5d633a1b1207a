using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using SemEdge.Imaging;
using SemEdge.Inference;

namespace SemEdge.Toolchain.Datasets;

public sealed record PreprocessRequest(string List, string Out, int Size, int Threads);

/// <summary>
/// <c>semedge preprocess</c>: decodes and area-resizes a list of image files with the daemon's own
/// <see cref="ImageDecoder"/> and <see cref="Preprocessor"/>, so the trainer learns from exactly the tensors the
/// daemon will compute (every PNG mode, JPEG, BMP, 8/16-bit TIFF, alpha composited over black). Writes
/// <c>OUT.npy</c> (float32 [N, size, size], grey in [0, 1] before the manifest's normalisation) and
/// <c>OUT.json</c> (the files in row order, their original sizes, and the files the decoder refused, with the reason).
/// </summary>
public static class PreprocessJob
{
    public static JobOutcome Run(PreprocessRequest request, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (request.Size is < 1 or > 1024)
        {
            throw new JobInputException($"--size must be 1 to 1024, got {request.Size}");
        }

        if (request.Threads is < 1 or > 64)
        {
            throw new JobInputException($"--threads must be 1 to 64, got {request.Threads}");
        }

        if (!File.Exists(request.List))
        {
            throw new JobInputException($"--list '{request.List}' does not exist");
        }

        var files = File.ReadAllLines(request.List).Where(l => l.Length > 0).ToArray();
        var size = request.Size;
        var plane = size * size;
        // Unit grey: the manifest's normalisation (v - mean) / std with mean 0 and std 1 leaves v as it is.
        var spec = new Preprocessing { Width = size, Height = size, Mean = 0f, Std = 1f };
        var tensors = new float[files.Length][];
        var dims = new (int Width, int Height)[files.Length];
        var errors = new string?[files.Length];
        var options = new ParallelOptions { MaxDegreeOfParallelism = request.Threads, CancellationToken = cancellationToken };
        Parallel.For(0, files.Length, options,
            () => (Decoder: new ImageDecoder(), Image: new DecodedImage(), Pre: new Preprocessor(spec)),
            (i, _, worker) =>
            {
                try
                {
                    worker.Decoder.Decode(File.ReadAllBytes(files[i]), worker.Image);
                    var tensor = new float[plane];
                    worker.Pre.Run(worker.Image, tensor);
                    tensors[i] = tensor;
                    dims[i] = (worker.Image.Width, worker.Image.Height);
                }
                catch (ImageRejectedException ex)
                {
                    errors[i] = $"{ex.Code}: {ex.Message}";
                }
                catch (IOException ex)
                {
                    errors[i] = $"io: {ex.Message}";
                }

                return worker;
            },
            _ => { });

        var kept = Enumerable.Range(0, files.Length).Where(i => errors[i] is null).ToArray();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(request.Out))!);
        WriteNpy(request.Out + ".npy", kept.Select(i => tensors[i]), kept.Length, size);
        var index = new PreprocessIndex
        {
            Size = size,
            Background = "black",
            Files = kept.Select(i => files[i]).ToArray(),
            OriginalSizes = kept.Select(i => new[] { dims[i].Width, dims[i].Height }).ToArray(),
            Rejected = Enumerable.Range(0, files.Length).Where(i => errors[i] is not null)
                .Select(i => new RejectedFile { File = files[i], Reason = errors[i]! }).ToArray(),
        };
        File.WriteAllText(request.Out + ".json", JsonSerializer.Serialize(index, PreprocessJsonContext.Default.PreprocessIndex) + "\n");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"preprocessed {kept.Length} of {files.Length} images to {size}x{size} ({index.Rejected.Count} refused) -> {request.Out}.npy"));
        foreach (var rejected in index.Rejected)
        {
            stderr.WriteLine($"refused {rejected.File}: {rejected.Reason}");
        }

        return JobOutcome.Succeeded;
    }

    /// <summary>NumPy's .npy format, version 1.0: magic, header length, a Python dict literal padded to 64 bytes, raw data.</summary>
    private static void WriteNpy(string path, IEnumerable<float[]> planes, int count, int size)
    {
        var header = string.Create(CultureInfo.InvariantCulture,
            $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({count}, {size}, {size}), }}");
        var total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + ((64 - (total % 64)) % 64)) + "\n";
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
        stream.Write(length);
        stream.Write(Encoding.ASCII.GetBytes(header));
        var bytes = new byte[size * size * sizeof(float)];
        foreach (var plane in planes)
        {
            for (var i = 0; i < plane.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), plane[i]);
            }

            stream.Write(bytes);
        }
    }
}

internal sealed record PreprocessIndex
{
    public required int Size { get; init; }

    /// <summary>What transparent pixels were composited over.</summary>
    public required string Background { get; init; }

    public required IReadOnlyList<string> Files { get; init; }

    public required IReadOnlyList<int[]> OriginalSizes { get; init; }

    public required IReadOnlyList<RejectedFile> Rejected { get; init; }
}

internal sealed record RejectedFile
{
    public required string File { get; init; }

    public required string Reason { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(PreprocessIndex))]
internal sealed partial class PreprocessJsonContext : JsonSerializerContext;

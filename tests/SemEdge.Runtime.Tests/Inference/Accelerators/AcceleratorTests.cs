using Microsoft.Extensions.Logging.Testing;
using SemEdge.Inference;
using SemEdge.Inference.Accelerators;
using SemEdge.Tests.Inference;

namespace SemEdge.Tests.Inference.Accelerators;

/// <summary>
/// The accelerator hook against a real native library (tests/native/fake_vendor_ep.c compiled here). Sessions keep
/// running on the packaged ONNX Runtime (ReplaceRuntime = false); the hook looks up and calls the entry points in
/// the fake, exactly as it would in the vendor's library on the board.
/// </summary>
public class AcceleratorTests
{
    private readonly FakeLogger _log = new();

    /// <summary>The log as the technician reads it, one "Level: message" line each.</summary>
    private string Text => string.Join("\n", _log.Collector.GetSnapshot().Select(r => $"{r.Level}: {r.Message}"));

    [Fact]
    public void Vsinpu_entry_point_succeeding_makes_vsinpu_the_reported_provider()
    {
        using var fake = FakeVendorLibrary.Build();
        var cache = Path.Combine(fake.Folder, "npu-cache");

        using var session = ModelSession.Load(Fixtures.Classifier, 1, Hook(fake, "vsinpu", graphCache: cache));

        Assert.Equal("vsinpu", session.Provider);
        Assert.StartsWith("VSINPU options=set", Assert.Single(fake.Calls));
        Assert.Contains("runs on the vsinpu execution provider", Text);
    }

    [Fact]
    public void Graph_cache_is_enabled_in_the_native_environment_before_the_npu_session()
    {
        using var fake = FakeVendorLibrary.Build();
        var cache = Path.Combine(fake.Folder, "npu-cache");

        using var session = ModelSession.Load(Fixtures.Classifier, 1, Hook(fake, "vsinpu", graphCache: cache));

        Assert.True(Directory.Exists(cache));
        Assert.EndsWith($"cache=1 dir={cache}", Assert.Single(fake.Calls));
    }

    [Fact]
    public void Missing_vendor_library_falls_back_to_cpu_with_the_loader_reason()
    {
        var accelerator = new Accelerator(
            new AcceleratorSettings { Kind = "vsinpu", VendorLibraryPath = "/nonexistent/libonnxruntime.so", ReplaceRuntime = false }, _log);

        using var session = ModelSession.Load(Fixtures.Classifier, 1, accelerator);

        Assert.Equal("cpu", session.Provider);
        Assert.Contains("vendor library /nonexistent/libonnxruntime.so could not be loaded", Text);
        Assert.Contains("falls back to the CPU", Text);
    }

    [Fact]
    public void Missing_entry_point_falls_back_to_cpu_naming_the_symbol()
    {
        using var fake = FakeVendorLibrary.Build(omit: FakeVendorLibrary.Vsinpu);

        using var session = ModelSession.Load(Fixtures.Classifier, 1, Hook(fake, "vsinpu"));

        Assert.Equal("cpu", session.Provider);
        Assert.Contains("does not export OrtSessionOptionsAppendExecutionProvider_VSINPU", Text);
        Assert.Empty(fake.Calls);
    }

    [Fact]
    public void Error_status_is_read_through_the_vendor_api_surfaced_and_released()
    {
        using var fake = FakeVendorLibrary.Build(fail: FakeVendorLibrary.Vsinpu);

        using var session = ModelSession.Load(Fixtures.Classifier, 1, Hook(fake, "vsinpu"));

        Assert.Equal("cpu", session.Provider);
        Assert.Contains("returned an error: VSINPU: cannot open /dev/galcore (fake)", Text);
        Assert.Equal(["VSINPU", "ReleaseStatus"], fake.Calls.Select(c => c.Split(' ')[0]));
    }

    [Fact]
    public void Auto_tries_vsinpu_then_nnapi_then_the_legacy_provider()
    {
        using var fake = FakeVendorLibrary.Build(fail: FakeVendorLibrary.Vsinpu, omit: FakeVendorLibrary.Nnapi);

        using var session = ModelSession.Load(Fixtures.Classifier, 1, Hook(fake, "auto"));

        Assert.Equal("vsinpu-legacy", session.Provider);
        Assert.Equal(["VSINPU", "ReleaseStatus", "VsiNpu"], fake.Calls.Select(c => c.Split(' ')[0]));
        Assert.Contains("arg=0", fake.Calls[^1]);
    }

    [Fact]
    public void Auto_stops_at_the_first_provider_that_registers()
    {
        using var fake = FakeVendorLibrary.Build(fail: FakeVendorLibrary.Vsinpu);

        using var session = ModelSession.Load(Fixtures.Classifier, 1, Hook(fake, "auto"));

        Assert.Equal("nnapi", session.Provider);
        Assert.Equal(["VSINPU", "ReleaseStatus", "Nnapi"], fake.Calls.Select(c => c.Split(' ')[0]));
    }

    [Fact]
    public void Required_accelerator_that_is_unavailable_fails_start_up_with_every_reason()
    {
        using var fake = FakeVendorLibrary.Build(fail: FakeVendorLibrary.Vsinpu | FakeVendorLibrary.Nnapi, omit: FakeVendorLibrary.VsiNpuLegacy);

        var ex = Assert.Throws<AcceleratorUnavailableException>(() =>
            ModelSession.Load(Fixtures.Classifier, 1, Hook(fake, "auto", required: true)));

        Assert.Contains("AcceleratorRequired", ex.Message);
        Assert.Contains("cannot open /dev/galcore", ex.Message);
        Assert.Contains("no accelerator device found", ex.Message);
        Assert.Contains("does not export OrtSessionOptionsAppendExecutionProvider_VsiNpu", ex.Message);
    }

    [Fact]
    public void Vendor_runtime_older_than_the_managed_package_is_refused_when_it_would_replace_it()
    {
        using var fake = FakeVendorLibrary.Build(version: "1.20.0");

        var ex = Assert.Throws<AcceleratorUnavailableException>(() => new Accelerator(
            new AcceleratorSettings { Kind = "vsinpu", VendorLibraryPath = fake.LibraryPath, ReplaceRuntime = true }, _log));

        Assert.Contains("1.20.0", ex.Message);
        Assert.Contains(OnnxRuntimeBinding.ManagedVersion.ToString(), ex.Message);
    }

    [Fact]
    public void Vendor_runtime_older_than_the_managed_package_only_warns_when_it_does_not_replace_it()
    {
        using var fake = FakeVendorLibrary.Build(version: "1.20.0");

        using var session = ModelSession.Load(Fixtures.Classifier, 1, Hook(fake, "vsinpu"));

        Assert.Equal("vsinpu", session.Provider);
        Assert.Contains("older than the managed package", Text);
    }

    [Fact]
    public void Cpu_accelerator_never_touches_the_vendor_library()
    {
        using var fake = FakeVendorLibrary.Build();

        using var session = ModelSession.Load(Fixtures.Classifier, 1, Hook(fake, "cpu"));

        Assert.Equal("cpu", session.Provider);
        Assert.Empty(fake.Calls);
    }

    [Fact]
    public void Fake_vendor_library_cross_compiles_to_an_aarch64_shared_object()
    {
        using var dir = new TempFolder();
        var output = Path.Combine(dir.Path, "libonnxruntime.so");

        FakeVendorLibrary.Compile("aarch64-linux-gnu-gcc", output);

        var elf = File.ReadAllBytes(output);
        Assert.Equal([0x7F, (byte)'E', (byte)'L', (byte)'F'], elf[..4]);
        Assert.Equal(2, elf[4]); // ELFCLASS64
        Assert.Equal(3, BitConverter.ToUInt16(elf, 16)); // ET_DYN: a shared object
        Assert.Equal(183, BitConverter.ToUInt16(elf, 18)); // EM_AARCH64
    }

    [Fact]
    public void Managed_package_version_is_read_from_the_assembly()
    {
        Assert.Equal(new Version(1, 31, 1), OnnxRuntimeBinding.ManagedVersion);
        Assert.Equal(new Version(1, 20, 0), OnnxRuntimeBinding.ParseVersion("1.20.0-nxp+lf6.12"));
        Assert.Null(OnnxRuntimeBinding.ParseVersion("unknown"));
    }

    private Accelerator Hook(FakeVendorLibrary fake, string kind, bool required = false, string? graphCache = null) =>
        new(new AcceleratorSettings
        {
            Kind = kind,
            Required = required,
            VendorLibraryPath = fake.LibraryPath,
            ReplaceRuntime = false,
            GraphCacheDir = graphCache,
        }, _log);
}

using System.Runtime.InteropServices;
using SemEdge.Actuation;

namespace SemEdge.Diagnostics;

/// <summary>The reject (and other) lines' gpiochips are there and writable, and which libgpiod drives them.</summary>
public static class GpioCheck
{
    public const string Area = "gpio";

    public static IReadOnlyList<CheckResult> Run(DoctorContext context, string deviceFolder = "/dev")
    {
        if (context.Gpio.Value is not { } gpio)
        {
            return [CheckResult.Fail(Area, "not checked: the Gpio section is invalid (see config)")];
        }

        if (gpio.Driver == GpioDriverKind.None)
        {
            return [CheckResult.Warn(Area, "Gpio:Driver is none: rejects are published but no reject line is pulsed")];
        }

        if (gpio.Driver == GpioDriverKind.Simulated)
        {
            return [CheckResult.Warn(Area, "Gpio:Driver is simulated: line edges are only logged, no reject line is pulsed")];
        }

        var results = new List<CheckResult> { LibgpiodVersion() };
        var lines = new (string Name, GpioLineOptions? Line)[] { ("Reject", gpio.Reject), ("Review", gpio.Review), ("Ready", gpio.Ready), ("Fault", gpio.Fault), ("Alarm", gpio.Alarm) };
        foreach (var chip in lines.Where(l => l.Line is not null).GroupBy(l => l.Line!.Chip))
        {
            var names = string.Join(", ", chip.Select(l => $"{l.Name} line {l.Line!.Line}"));
            var device = Path.Combine(deviceFolder, $"gpiochip{chip.Key}");
            results.Add(DeviceAccess(device, names));
        }

        return results;
    }

    internal static CheckResult DeviceAccess(string device, string usedBy)
    {
        if (!File.Exists(device))
        {
            return CheckResult.Fail(Area, $"{device} ({usedBy}) does not exist: wrong chip number? (list chips with gpiodetect)");
        }

        try
        {
            // Opening the character device read-write is exactly the access the driver needs; it changes no line.
            using var handle = File.OpenHandle(device, FileMode.Open, FileAccess.ReadWrite);
            return CheckResult.Pass(Area, $"{device} ({usedBy}) is writable by this user");
        }
        catch (UnauthorizedAccessException)
        {
            return CheckResult.Fail(Area,
                $"{device} ({usedBy}) is not writable by this user: is the udev rule installed and the user in group gpio?");
        }
        catch (IOException ex)
        {
            return CheckResult.Fail(Area, $"{device} ({usedBy}) cannot be opened: {ex.Message}");
        }
    }

    private static CheckResult LibgpiodVersion()
    {
        // libgpiod 2.x is libgpiod.so.3 with gpiod_api_version(); 1.x is libgpiod.so.2 with gpiod_version_string().
        foreach (var (library, symbol) in new[] { ("libgpiod.so.3", "gpiod_api_version"), ("libgpiod.so.2", "gpiod_version_string") })
        {
            if (!NativeLibrary.TryLoad(library, out var handle))
            {
                continue;
            }

            var version = NativeLibrary.TryGetExport(handle, symbol, out var function)
                ? ReadVersion(function)
                : "version unknown";
            return CheckResult.Pass(Area, $"libgpiod {version} ({library})");
        }

        return CheckResult.Fail(Area, "libgpiod is not installed (neither libgpiod.so.3 nor libgpiod.so.2): install the BSP's libgpiod package");
    }

    private static unsafe string ReadVersion(IntPtr function) =>
        Marshal.PtrToStringUTF8(((delegate* unmanaged<IntPtr>)function)()) ?? "version unknown";
}

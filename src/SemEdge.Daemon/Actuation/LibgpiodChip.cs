using System.Device.Gpio;
using System.Device.Gpio.Drivers;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace SemEdge.Actuation;

/// <summary>
/// Opens /dev/gpiochipN through whichever libgpiod ABI the board has: 2.x (libgpiod.so.3, newer Yocto) with
/// <see cref="LibGpiodV2Driver"/>, else 1.x (libgpiod.so.2) with <see cref="LibGpiodDriver"/>. Both drive the
/// same kernel character device; the choice is logged. A failure names the chip and what to check.
/// </summary>
internal static class LibgpiodChip
{
    public const string V2Library = "libgpiod.so.3";

    public static GpioDriver Open(int chip, ILogger logger)
    {
        var v2 = NativeLibrary.TryLoad(V2Library, out var handle);
        if (v2)
        {
            NativeLibrary.Free(handle);
        }

        try
        {
            GpioDriver driver = v2 ? new LibGpiodV2Driver(chip) : new LibGpiodDriver(chip);
            logger.LogInformation("gpiochip{Chip} opened with libgpiod {Abi}", chip, v2 ? "2.x (libgpiod.so.3)" : "1.x (libgpiod.so.2)");
            return driver;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidOperationException(
                $"Cannot open /dev/gpiochip{chip} through libgpiod ({ex.GetBaseException().Message}). " +
                "Check that libgpiod is installed, that the chip exists ('gpiodetect') and that SemEdge may use it (group gpio), " +
                "or set Gpio:Driver to simulated or none on a machine without the reject gate.", ex);
        }
    }
}

using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using SemEdge.Telemetry;

namespace SemEdge.Tests.Telemetry;

public class PipelineCountersTests
{
    [Fact]
    public void The_totals_are_the_instruments_of_the_SemEdge_meter()
    {
        using var services = new ServiceCollection().AddMetrics().AddSingleton<PipelineCounters>().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        var counters = services.GetRequiredService<PipelineCounters>();
        counters.CountClaimed();
        counters.CountClaimed();
        counters.CountClaimed();
        counters.CountPassed();
        counters.CountRejected();
        counters.CountRejected();
        counters.CountQuarantined();
        counters.CountPublished();

        var seen = Collect(meters);

        Assert.Equal(3, seen[("semedge.images.claimed", "")]);
        Assert.Equal(1, seen[("semedge.verdicts", "pass")]);
        Assert.Equal(2, seen[("semedge.verdicts", "reject")]);
        Assert.Equal(0, seen[("semedge.verdicts", "review")]);
        Assert.Equal(1, seen[("semedge.images.quarantined", "")]);
        Assert.Equal(1, seen[("semedge.verdicts.published", "")]);
        Assert.Equal(3, counters.Inspected);
    }

    [Fact]
    public void Each_host_has_its_own_meter()
    {
        using var first = new ServiceCollection().AddMetrics().AddSingleton<PipelineCounters>().BuildServiceProvider();
        using var second = new ServiceCollection().AddMetrics().AddSingleton<PipelineCounters>().BuildServiceProvider();
        first.GetRequiredService<PipelineCounters>().CountClaimed();
        second.GetRequiredService<PipelineCounters>();

        Assert.Equal(1, Collect(first.GetRequiredService<IMeterFactory>())[("semedge.images.claimed", "")]);
        Assert.Equal(0, Collect(second.GetRequiredService<IMeterFactory>())[("semedge.images.claimed", "")]);
    }

    /// <summary>What a listener (dotnet-counters is one) reads from the meter the factory made: (instrument, action) -> value.</summary>
    private static Dictionary<(string Instrument, string Action), long> Collect(IMeterFactory factory)
    {
        var seen = new Dictionary<(string, string), long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // The factory's own meters only: other tests' hosts publish a SemEdge meter too.
            if (instrument.Meter.Name == PipelineCounters.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var action = "";
            foreach (var tag in tags)
            {
                if (tag.Key == "action")
                {
                    action = (string)tag.Value!;
                }
            }

            seen[(instrument.Name, action)] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return seen;
    }
}

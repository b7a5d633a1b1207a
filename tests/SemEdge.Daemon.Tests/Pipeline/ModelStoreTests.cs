using Microsoft.Extensions.Logging.Abstractions;
using SemEdge.Pipeline;

namespace SemEdge.Tests.Hosting;

public class ModelStoreTests
{
    [Fact]
    public async Task Swap_waits_for_the_inspection_in_flight_which_finishes_on_the_old_model()
    {
        using var gate = new SemaphoreSlim(0);
        var old = new FakeInspector("1", gate);
        var next = new FakeInspector("2");
        using var store = new ModelStore(new FakeInspectorLoader(old, next), NullLogger<ModelStore>.Instance);
        store.LoadInitial(new ModelSelection("v1.json", null));

        var inFlight = Task.Run(() => store.Inspect("a.png", "a.png"));
        await old.Entered.Task;
        var swap = Task.Run(() => store.TrySwap(new ModelSelection("v2.json", null)));

        await Task.Delay(200);
        Assert.False(swap.IsCompleted, "the swap must wait for the inspection in flight");
        Assert.False(old.Disposed);

        gate.Release();
        var verdict = await inFlight;
        Assert.True(await swap);
        Assert.Equal("fake-classifier", verdict.ModelId);
        Assert.True(old.Disposed);
        Assert.Equal("2", store.Announcement.Version);

        store.Inspect("b.png", "b.png");
        Assert.Equal(1, next.Inspections);
    }

    [Fact]
    public void Refused_model_leaves_the_running_one_in_place()
    {
        var running = new FakeInspector("1");
        using var store = new ModelStore(new FakeInspectorLoader(running), NullLogger<ModelStore>.Instance);
        store.LoadInitial(new ModelSelection("v1.json", null));
        var identity = store.Identity;

        Assert.False(store.TrySwap(new ModelSelection("bad-v2.json", null)));

        Assert.Equal("1", store.Announcement.Version);
        Assert.Equal(identity, store.Identity);
        Assert.False(running.Disposed);
        store.Inspect("a.png", "a.png");
        Assert.Equal(1, running.Inspections);
    }

    [Fact]
    public void An_image_the_old_set_prepared_is_prepared_again_by_the_set_that_decides_on_it()
    {
        var old = new FakeInspector("1");
        var next = new FakeInspector("2");
        using var store = new ModelStore(new FakeInspectorLoader(old, next), NullLogger<ModelStore>.Instance);
        store.LoadInitial(new ModelSelection("v1.json", null));
        var prepared = store.Prepare("a.png", CancellationToken.None);

        Assert.True(store.TrySwap(new ModelSelection("v2.json", null)));
        var verdict = store.Infer(prepared, "a.png", CancellationToken.None);

        Assert.Equal("a.png", verdict.Image);
        Assert.Equal((1, 0), (old.Prepared, old.Inspections));
        Assert.Equal((1, 1), (next.Prepared, next.Inspections));
    }
}

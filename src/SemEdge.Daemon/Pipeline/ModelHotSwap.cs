using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SemEdge.Publishing;

namespace SemEdge.Pipeline;

/// <summary>
/// Watches the models folder and swaps in a new or changed model set (see <see cref="ModelFolder"/>), then
/// announces it on MQTT. Polls a cheap fingerprint instead of trusting file events: a model is often copied
/// manifest-first, and a refused half-copied set must be retried once the copy completes.
/// </summary>
public sealed class ModelHotSwap(
    ModelFolder folder,
    ModelStore store,
    PipelineProgress progress,
    MqttPublisher publisher,
    IOptions<PipelineOptions> options,
    TimeProvider time,
    ILogger<ModelHotSwap> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.ModelCheckInterval;
        if (interval == TimeSpan.Zero)
        {
            return;
        }

        await progress.Ready.WaitAsync(stoppingToken);
        // No snapshot of the folder here: a model installed while the first set was loading would already be in
        // it and never be looked at. The first tick compares the folder with what the store actually loaded.
        string? seen = null;
        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var now = folder.Fingerprint();
            if (now == seen)
            {
                continue;
            }

            seen = now;
            var selection = folder.Choose();
            if (ModelFolder.Identity(selection) == store.Identity)
            {
                continue; // something else in the folder changed
            }

            logger.LogInformation("Models folder changed; verifying {Manifest}", selection.ClassifierManifest);
            // Loading takes seconds on the board: keep it off the timer's thread pool slot but within this loop.
            if (await Task.Run(() => store.TrySwap(selection), stoppingToken))
            {
                publisher.AnnounceModel(store.Announcement);
            }
        }
    }
}

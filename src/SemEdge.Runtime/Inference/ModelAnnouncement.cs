namespace SemEdge.Inference;

/// <summary>
/// The model set that now decides, as the daemon announces it: the retained MQTT <c>model</c> topic, the page
/// and the systemd STATUS line all show it. A loaded inspector describes itself with one; the publisher sends
/// it at start and on every hot swap. It lives with the manifests because every field comes from them.
/// </summary>
/// <param name="Id">Model id from the manifest.</param>
/// <param name="Version">Model version from the manifest.</param>
/// <param name="Sha">Short sha256 of the model file (12 hex digits).</param>
/// <param name="Provider">Execution provider that actually runs it (cpu, vsinpu, nnapi, ...).</param>
/// <param name="Classes">The labels this model can answer with (the model's own order; published by table number).</param>
/// <param name="ScreenId">Id of the clean-vs-defect screen model when running as a cascade, else null.</param>
public sealed record ModelAnnouncement(
    string Id,
    string Version,
    string Sha,
    string Provider,
    IReadOnlyList<string> Classes,
    string? ScreenId)
{
    /// <summary>The class table, the contract with the line: every label and the number verdicts carry for it.</summary>
    public IReadOnlyList<Decision.ClassNumber> ClassTable { get; init; } = [];

    /// <summary>Table classes this model cannot produce.</summary>
    public IReadOnlyList<string> Missing { get; init; } = [];

    /// <summary>The trusted key that signed the classifier's manifest ("NAME KEYID"), or null when started unsigned.</summary>
    public string? SignedBy { get; init; }
}

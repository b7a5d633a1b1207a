namespace SemEdge.Inference.Accelerators;

/// <summary>The configured accelerator cannot be used and the configuration does not allow running without it.</summary>
public sealed class AcceleratorUnavailableException(string message) : Exception(message);

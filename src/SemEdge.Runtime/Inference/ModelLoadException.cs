namespace SemEdge.Inference;

/// <summary>A model that must not or cannot be loaded: wrong checksum, missing file, shape mismatch, ORT refusal.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);

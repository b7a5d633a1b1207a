"""SemEdge training: reads a class-folder dataset, trains the MobileNetV3-Small classifier and the
clean-vs-defect screen, and exports FP32 ONNX models with the manifest the C# runtime reads."""

DEFAULT_CLASSES = ("clean", "bridge", "cmp", "crack", "ler", "open", "particle", "scratch", "vias", "other")
SCREEN_CLASSES = ("clean", "defect")

semedge-signature-v1 model-manifest
key fafd46414cdae8f4
ed25519 9H4Heny/j7OOz3Bi7xyuVIL07bS2m1J4+bjOiywKneJ7qnk0QOVGqe/z+vqd/1QoDNDw4dsjg/Pufw2R0nPvBw==

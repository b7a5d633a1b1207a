semedge-signature-v1 model-manifest
key fafd46414cdae8f4
ed25519 7FDPzVJ94mTmZ/bahJKXE/0crcGBRAx4cCFfrgnft25N7Yzg3nwie+bI9efxLCRZzt/pAepwT+hDIPbkeWSUDA==

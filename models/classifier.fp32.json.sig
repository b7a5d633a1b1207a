semedge-signature-v1 model-manifest
key fafd46414cdae8f4
ed25519 ooz4/sUmyrz9I0ApJEuE9uuBF5j7xpg49/5SGsbAsQG/I5/meU/IvgWcWTYS335hcMokff+A1nSWy+b4ilZoBQ==

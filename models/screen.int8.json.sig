semedge-signature-v1 model-manifest
key fafd46414cdae8f4
ed25519 /MyDAF9S/NNmWYWK8Mh9tZbq6/og6MVijLMrzjbNbSKRiWcJmQigAY+5rjL8ur7hW2jxHnyp+7le+WVlOmzuAw==

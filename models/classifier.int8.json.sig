semedge-signature-v1 model-manifest
key fafd46414cdae8f4
ed25519 5KNDrp9UDPeEAPOOOH+sAQrkJRaxypKPixL4J+7xTvuz1URnfq5f6eRbPba/lrHNm4AyDShG7SQL/jA+jgziAA==

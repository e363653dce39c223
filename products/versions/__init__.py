"""A product's saved versions as a person reads them: one version's settings in words, its diff, loading it."""

"""Materials: the catalogue of cathodes, electrolytes, collectors and coatings (YAML with citations), its schema and lookups."""

"""Wire contracts shared by producers and consumers."""

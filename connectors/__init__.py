"""Platform connectors: each knows one platform API and nothing about storage."""

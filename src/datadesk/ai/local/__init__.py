"""The offline assistant: understanding a question, linking it to the catalog, and building SQL from metadata."""

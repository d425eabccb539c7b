"""datadesk: a self-hostable data catalog with a governed AI assistant."""

__version__ = "0.1.0"

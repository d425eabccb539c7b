"""The MCP server: the catalog's tools for people's own AI clients, under each person's own permissions.

`tools` holds what each tool does (the same services and access checks as the API), `server` wires
them into the official SDK, `http` serves them at /mcp and `stdio` for `datadesk mcp`.
"""

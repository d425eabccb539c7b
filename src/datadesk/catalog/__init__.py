"""Resources, their lineage and search, and the syncs that fill them.

Importing any of it registers the SQLite function the search index's insert trigger calls (search_index),
so no store connection that writes resources can miss it.
"""

from datadesk.catalog import search_index as _search_index  # noqa: F401

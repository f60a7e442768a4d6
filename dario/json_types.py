"""Names for decoded JSON (and TOML) data, which is read by key and checked where it is used."""

from __future__ import annotations

from typing import Any

# A decoded JSON object: its values may be of any JSON type (the code reading a key says which it expects).
JsonObject = dict[str, Any]
# A decoded JSON array, of values of any JSON type.
JsonArray = list[Any]

"""Shelters: registry from open data, live capacity and Wi-Fi, and the nearest with room.

Other packages use only what is named here.
"""

from shelters.service import import_snapshots, nearest_with_room, shelter_place, upsert_shelters

__all__ = ["import_snapshots", "nearest_with_room", "shelter_place", "upsert_shelters"]

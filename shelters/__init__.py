"""Shelters: registry from open data, live capacity and Wi-Fi, and the nearest with room.

Other packages use only what is named here.
"""

from shelters.service import nearest_with_room

__all__ = ["nearest_with_room"]

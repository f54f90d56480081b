"""Bus topics the shelters capability emits."""

SHELTER_UPDATED = "shelter.updated"  # payload: the shelter as the API shows it

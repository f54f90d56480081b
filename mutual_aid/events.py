"""Bus topics the mutual_aid capability emits."""

# payload: {"request_id", "state", "event", "subscription_id", "created_by", "at"}
AID_REQUEST_CHANGED = "aid.request.changed"

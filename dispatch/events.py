"""Bus topics the dispatch capability emits."""

OFFERED = "dispatch.offered"  # {dispatch_id, incident_id, offers: [{responder_id, offer}]}
WITHDRAWN = "dispatch.withdrawn"  # {dispatch_id, responder_ids, reason}
OFFICER_ALERT = "dispatch.officer_alert"  # {dispatch_id, incident_id, municipality_code, ...}
UPDATED = "dispatch.updated"  # {dispatch_id, incident_id, filled, needed, state}

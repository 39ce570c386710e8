"""Upload validation, transcoding and delivery of lesson media (VOD)."""

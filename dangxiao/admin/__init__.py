"""Administration: users, roles and the organisation tree."""

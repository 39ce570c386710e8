"""Users, roles and the organisation tree (党委 → 党总支 → 党支部)."""

"""通知: notify(user, kind, text, url) after commit, the 通知 page, live push to the user's room."""
